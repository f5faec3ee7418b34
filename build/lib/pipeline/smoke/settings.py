"""``smoke:`` of pipeline.yaml: the port, the readiness check, more requests, the policy and the
structure tests. Each subsection is parsed by the module that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.fields import Fields
from pipeline.smoke.http_checks import HttpCheck, parse_checks
from pipeline.smoke.policy import PolicyConfig, parse_policy
from pipeline.smoke.structure_suite import StructureSuite, parse_structure

DEFAULT_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmokeConfig:
    port: int = 3000
    path: str = "/healthz"
    expect_status: int = 200
    expect_body: str | None = None
    timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    checks: list[HttpCheck] = field(default_factory=list)  # requests beyond `path`
    structure: StructureSuite | None = None  # container-structure-test schema 2.0.0
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    # Graceful-stop check: N = must exit 0 within N s after the stop signal; 0 = off; unset =
    # checked with DEFAULT_STOP_TIMEOUT but only warned about, since many images started without
    # an init ignore SIGTERM and users opt in to failing on it.
    stop_timeout: float | None = None


KEYS = tuple(SmokeConfig.__dataclass_fields__)


def parse_smoke(top: Fields, root: Path) -> SmokeConfig:
    section = top.section("smoke", KEYS)

    path = section.text("path", "/healthz")
    assert path is not None
    if not path.startswith("/"):
        raise section.error("path", f"{path!r} must start with /")
    return SmokeConfig(
        port=section.integer("port", 3000, low=1, high=65535),
        path=path,
        expect_status=section.integer("expect_status", 200, low=100, high=599),
        expect_body=section.regex("expect_body"),
        timeout=section.number("timeout", 30.0, low=1, high=3600),
        env=section.str_map("env"),
        checks=parse_checks(section),
        structure=parse_structure(section, root),
        policy=parse_policy(section),
        stop_timeout=(
            section.number("stop_timeout", DEFAULT_STOP_TIMEOUT, low=0, high=300)
            if "stop_timeout" in section.data
            else None
        ),
    )
