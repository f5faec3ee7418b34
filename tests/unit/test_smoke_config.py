"""``smoke.checks``, ``smoke.policy`` and ``smoke.stop_timeout`` validation: good values load,
each mistake is one line naming the field; and an image's HEALTHCHECK read as what smoke runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.project import load_config
from pipeline.smoke.http_checks import HttpCheck
from pipeline.smoke.policy import PolicyConfig
from pipeline.smoke.service import HealthTest
from pipeline.smoke.settings import SmokeConfig
from pipeline.units import parse_size


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")


def smoke(**values: object) -> SmokeConfig:
    config = {"image": "team/app", "build": {"context": "."}, "smoke": values}
    Path("pipeline.yaml").write_text(yaml.safe_dump(config))
    return load_config("pipeline.yaml").smoke


def test_defaults_keep_the_simple_check_and_turn_on_policy() -> None:
    config = smoke()
    assert config.checks == [] and config.structure is None
    assert config.policy == PolicyConfig(non_root=True, secrets=True, healthcheck="warn")
    assert config.stop_timeout is None  # unset: checked, but a failure is only a warning


def test_checks_are_read_with_their_expectations() -> None:
    config = smoke(
        checks=[
            {"path": "/", "expect_json": {"a.b[0]": 1}, "max_latency_ms": 200},
            {"name": "create", "method": "post", "path": "/items", "body": {"x": 1},
             "headers": {"X-Key": "k"}, "expect_status": 201,
             "expect_headers": {"Location": "^/items/"}},
        ],
        policy={"max_size": "1.5GiB", "allow_files": ["/usr/share/doc/*"]},
        stop_timeout=0,
    )  # fmt: skip
    assert config.checks == [
        HttpCheck(name="GET /", path="/", expect_json={"a.b[0]": 1}, max_latency_ms=200),
        HttpCheck(
            name="create",
            method="POST",
            path="/items",
            headers={"Content-Type": "application/json", "X-Key": "k"},
            body='{"x": 1}',
            expect_status=201,
            expect_headers={"Location": "^/items/"},
        ),
    ]
    assert config.policy.max_size == int(1.5 * 2**30)
    assert config.policy.allow_files == ("/usr/share/doc/*",)
    assert config.stop_timeout == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"checks": {"path": "/"}}, "smoke.checks: expected a list of requests"),
        ({"checks": [{"path": "/", "expect_stauts": 200}]},
         "smoke.checks[0].expect_stauts: unknown key"),
        ({"checks": [{"method": "GET"}]}, "smoke.checks[0].path: is required"),
        ({"checks": [{"path": "healthz"}]}, "smoke.checks[0].path: 'healthz' must start with /"),
        ({"checks": [{"path": "/", "method": "FETCH"}]},
         "smoke.checks[0].method: 'FETCH' is not one of GET, HEAD"),
        ({"checks": [{"path": "/", "expect_status": 99}]},
         "smoke.checks[0].expect_status: must be between 100 and 599"),
        ({"checks": [{"path": "/", "expect_body": "("}]},
         "smoke.checks[0].expect_body: invalid regular expression"),
        ({"checks": [{"path": "/", "expect_headers": {"A": "["}}]},
         "smoke.checks[0].expect_headers.A: invalid regular expression"),
        ({"checks": [{"path": "/", "expect_json": ["a"]}]},
         "smoke.checks[0].expect_json: expected a mapping of dotted paths to values"),
        ({"checks": [{"path": "/", "max_latency_ms": "fast"}]},
         "smoke.checks[0].max_latency_ms: expected an integer"),
        ({"checks": [{"path": "/a"}, {"path": "/a"}]},
         "smoke.checks[1].name: duplicate check name 'GET /a'"),
        ({"policy": {"max_size": "big"}}, "smoke.policy.max_size: 'big' is not a size"),
        ({"policy": {"non_root": "yes"}}, "smoke.policy.non_root: expected true or false"),
        ({"policy": {"healthcheck": "must"}},
         "smoke.policy.healthcheck: 'must' is not one of warn, require, off"),
        ({"policy": {"secret": False}}, "smoke.policy.secret: unknown key"),
        ({"stop_timeout": -1}, "smoke.stop_timeout: must be between 0 and 300"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_the_field(values: dict, expected: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        smoke(**values)
    assert str(caught.value).startswith(f"pipeline.yaml: {expected}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [("300MB", 300_000_000), ("300 mb", 300_000_000), ("1.5GB", 1_500_000_000),
     ("200MiB", 200 * 2**20), ("512k", 512_000), ("1024", 1024), ("10B", 10), ("2T", 2 * 10**12)],
)  # fmt: skip
def test_sizes_are_decimal_unless_binary(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "1.2.3MB", "-5MB", "10 PB", "ten"])
def test_sizes_that_are_not_sizes(text: str) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize(
    ("healthcheck", "command", "timeout"),
    [
        ({"Test": ["CMD", "node", "health.js"], "Timeout": 3_000_000_000},
         ["node", "health.js"], 3.0),
        ({"Test": ["CMD-SHELL", "curl -f localhost || exit 1"]},
         ["/bin/sh", "-c", "curl -f localhost || exit 1"], 30.0),  # Docker's default timeout
    ],
)  # fmt: skip
def test_an_images_healthcheck_is_the_command_docker_runs(  # type: ignore[no-untyped-def]
    healthcheck, command, timeout
):
    assert HealthTest.of({"Config": {"Healthcheck": healthcheck}}) == HealthTest(command, timeout)


def test_a_shell_form_healthcheck_runs_through_the_images_shell() -> None:
    """``SHELL ["/bin/bash", "-o", "pipefail", "-c"]`` applies to HEALTHCHECK's shell form too."""
    config = {
        "Shell": ["/bin/bash", "-o", "pipefail", "-c"],
        "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost | grep ok"]},
    }
    assert HealthTest.of({"Config": config}) == HealthTest(
        ["/bin/bash", "-o", "pipefail", "-c", "curl -f localhost | grep ok"], 30.0
    )


@pytest.mark.parametrize("config", [{}, {"Healthcheck": None}, {"Healthcheck": {"Test": ["NONE"]}}])
def test_no_healthcheck_or_none_runs_nothing(config) -> None:  # type: ignore[no-untyped-def]
    assert HealthTest.of({"Config": config}) is None
