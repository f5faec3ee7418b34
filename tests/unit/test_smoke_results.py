"""The pure parts of the smoke stage: verdicts and diffs, JUnit XML, JSON fields, and which file
names count as secrets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.errors import Interrupted
from pipeline.smoke.http_checks import json_field
from pipeline.smoke.junit import write_junit
from pipeline.smoke.layers import _instruction, secret_reason
from pipeline.smoke.stage import _failure, _summary
from pipeline.smoke.verdicts import CheckFailed, CheckSkipped, CheckWarning, Verdict, run_check


def fail(message: str, expected: str | None = None, got: str | None = None) -> str:
    raise CheckFailed(message, expected, got)


def test_run_check_turns_outcomes_into_verdicts() -> None:
    passed = run_check("service", "ok", lambda: "200 in 3 ms")
    failed = run_check("service", "bad", lambda: fail("wrong", "200", "500"))
    warned = run_check("policy", "hc", lambda: (_ for _ in ()).throw(CheckWarning("no HC")))
    skipped = run_check("service", "later", lambda: (_ for _ in ()).throw(CheckSkipped("n/a")))
    crashed = run_check("service", "bug", lambda: str(1 / 0))

    assert [r.verdict for r in (passed, failed, warned, skipped, crashed)] == [
        Verdict.PASSED, Verdict.FAILED, Verdict.WARNING, Verdict.SKIPPED, Verdict.FAILED
    ]  # fmt: skip
    assert passed.line().startswith("PASS  service: ok  (0.00 s)  200 in 3 ms")
    assert failed.line().startswith("FAIL  service: bad  (") and failed.line().endswith("wrong")
    assert crashed.message == "error: ZeroDivisionError: division by zero"


def test_an_interrupt_is_never_swallowed_by_a_check() -> None:
    def interrupted() -> str:
        raise Interrupted("SIGTERM", 143)

    with pytest.raises(Interrupted):
        run_check("service", "x", interrupted)


def test_diff_aligns_expected_and_got_and_indents_more_lines() -> None:
    result = run_check("structure", "c", lambda: fail("m", "/v2/", "v1\nline two"))
    assert result.diff() == "  expected: /v2/\n       got: v1\n            line two"


def test_diff_leaves_out_a_side_the_check_does_not_know() -> None:
    result = run_check("structure", "c", lambda: fail("m", None, "label x not found"))
    assert result.diff() == "       got: label x not found"
    assert run_check("service", "c", lambda: fail("m")).diff() == ""


def test_long_output_keeps_its_end() -> None:
    result = run_check("structure", "c", lambda: fail("m", "x", "a" * 5000 + "THE END"))
    assert result.got is not None and result.got.endswith("THE END") and len(result.got) < 2100


def test_junit_has_a_suite_per_kind_and_failures_with_their_diff(tmp_path: Path) -> None:
    results = [
        run_check("policy", "non-root", lambda: "USER 1000"),
        run_check("policy", "HEALTHCHECK", lambda: (_ for _ in ()).throw(CheckWarning("none"))),
        run_check("service", "GET /", lambda: fail("GET / returned 500", "status 200", "500")),
        run_check("service", "stop", lambda: (_ for _ in ()).throw(CheckSkipped("not ready"))),
    ]
    path = write_junit(tmp_path / "out" / "smoke.xml", results, "log line\x1b[0m\n")

    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["smoke.policy", "smoke.service"]
    failure = suites["smoke.service"].find("testcase[@name='GET /']/failure")
    assert failure is not None and failure.get("message") == "GET / returned 500"
    assert failure.text == "  expected: status 200\n       got: 500"
    assert suites["smoke.service"].find("testcase[@name='stop']/skipped") is not None
    warning = suites["smoke.policy"].find("testcase[@name='HEALTHCHECK']/system-out")
    assert warning is not None and warning.text == "WARNING: none"
    assert suites["smoke.service"].findtext("system-err") == "log line?[0m\n"


def test_stage_error_names_the_first_failing_check_and_counts_the_rest() -> None:
    results = [
        run_check("service", "readiness", lambda: fail("container exited with code 3")),
        run_check("policy", "runs as non-root", lambda: fail("image runs as root", "a", "b")),
    ]
    error = _failure(results, "booting\nfatal: no config")

    assert str(error) == (
        "smoke: container exited with code 3 [service: readiness]; "
        "1 more failed: policy: runs as non-root"
    )
    assert error.details.startswith("--- container logs (last 30 lines) ---\nbooting\n")
    assert "--- FAIL policy: runs as non-root: image runs as root\n  expected: a" in error.details
    assert _summary(results) == "0/2 checks passed"


@pytest.mark.parametrize(
    ("path", "found", "value"),
    [("a.b", True, 1), ("list[1].x", True, "y"), ("list.1.x", True, "y"), ("list[-1].x", True,
     "y"), ("a.c", False, None), ("list[5]", False, None), ("a.b.c", False, None)],
)  # fmt: skip
def test_json_fields_by_dotted_path(path: str, found: bool, value: object) -> None:
    document = {"a": {"b": 1}, "list": [{}, {"x": "y"}]}
    assert json_field(document, path) == (found, value)


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        ("/app/.env", b"", "dotenv file"),
        ("/app/.env.production", b"", "dotenv file"),
        ("/app/.env.example", b"A=", None),
        ("/root/.ssh/id_ed25519", b"", "SSH private key"),
        ("/root/.ssh/id_ed25519.pub", b"ssh-ed25519 AAAA", None),
        ("/etc/tls/server.key", b"-----BEGIN EC PRIVATE KEY-----\n", "private key"),
        ("/etc/tls/chain.pem", b"-----BEGIN CERTIFICATE-----\n", None),
        ("/keys/signing.key", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n", None),
        ("/home/node/.npmrc", b"//r.example/:_authToken=npm_abc\n", ".npmrc with an auth token"),
        ("/home/node/.npmrc", b"//r.example/:_authToken=${NPM_TOKEN}\n", None),
        ("/home/node/.npmrc", b"registry=https://registry.example/\n", None),
        ("/root/.docker/config.json", b'{"auths": {"r": {"auth": "dTpw"}}}', "docker credentials"),
        ("/root/.docker/config.json", b'{"credsStore": "desktop"}', None),
        ("/root/.git-credentials", b"", "git credentials"),
    ],
)  # fmt: skip
def test_secret_rules_by_name_and_content(path: str, content: bytes, reason: str | None) -> None:
    assert secret_reason(path, lambda: content) == reason


@pytest.mark.parametrize(
    ("created_by", "instruction"),
    [
        ("/bin/sh -c echo TOKEN=abc > /app/.env", "RUN"),
        ("/bin/sh -c #(nop) COPY dir:abc in /app ", "COPY"),
        ("/bin/sh -c #(nop) ADD file:123 in / ", "ADD"),
        ("RUN /bin/sh -c make # buildkit", "RUN"),
        ("COPY . . # buildkit", "COPY"),
        ("", ""),
    ],
)
def test_layer_steps_are_named_by_instruction_never_by_their_text(
    created_by: str, instruction: str
) -> None:
    assert _instruction(created_by) == instruction
