"""The statements hoist signs, checked against the in-toto protobuf schemas (not hoist's code):
the SLSA v1 provenance with every fact it must carry, the gate's verdict rules, the CI run."""

from __future__ import annotations

from dataclasses import replace

from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from pipeline.attest import statements
from pipeline.attest.evidence import actions_run, gate_records
from pipeline.attest.statements import BaseDependency, Evidence, GateRecord, Source
from pipeline.lint.findings import LintResult
from pipeline.result import VerifiedBy
from pipeline.smoke.stage import SmokeResult

DIGEST = "sha256:" + "ab" * 32
EVIDENCE = Evidence(
    run_id="20260101000000-abcdef",
    hoist_version="0.1.0",
    backend="classic",
    config_name="pipeline.yaml",
    config_digest="sha256:" + "cd" * 32,
    image="node-app",
    tags=("1.2.3", "latest"),
    started="2026-01-01T00:00:00+00:00",
    finished="2026-01-01T00:01:00+00:00",
    gates=(GateRecord("lint", "passed", tools=("hadolint",)),
           GateRecord("smoke", "passed", checks=(("service", "readiness", "pass"),))),
    source=Source("https://github.com/acme/app", "f" * 40, dirty=True, ref="refs/tags/v1.2.3"),
    base=BaseDependency("node:20-bookworm-slim", "sha256:" + "ef" * 32, "manifest"),
    ci_run="https://github.com/acme/app/actions/runs/7/attempts/1",
)  # fmt: skip


def validated(kind: str, predicate: object) -> dict:  # type: ignore[type-arg]
    made = statements.statement("ghcr.io/acme/app", DIGEST, kind, predicate)
    Statement.copy_from_pb(json_format.ParseDict(made, statement_pb2.Statement())).validate()
    return made


def test_provenance_is_slsa_v1_with_builder_source_config_base_and_run() -> None:
    predicate = statements.provenance(EVIDENCE)
    validated(statements.SLSA_PROVENANCE_V1, predicate)
    json_format.ParseDict(predicate, provenance_pb2.Provenance())  # strict: unknown fields fail
    builder = predicate["runDetails"]["builder"]
    assert builder["version"] == {"hoist": "0.1.0", "backend": "classic"}
    assert predicate["runDetails"]["metadata"]["invocationId"] == EVIDENCE.ci_run
    source = predicate["buildDefinition"]["externalParameters"]["source"]
    assert source == {"uri": "https://github.com/acme/app", "revision": "f" * 40, "dirty": True,
                      "ref": "refs/tags/v1.2.3"}  # fmt: skip
    git, config, base = predicate["buildDefinition"]["resolvedDependencies"]
    assert git == {"uri": "git+https://github.com/acme/app", "digest": {"gitCommit": "f" * 40},
                   "annotations": {"dirty": True}}  # fmt: skip
    assert config["digest"] == {"sha256": "cd" * 32}
    assert base == {
        "name": "base image",
        "uri": "docker-image://node:20-bookworm-slim",
        "digest": {"sha256": "ef" * 32},
        "annotations": {"digestKind": "manifest"},
    }


def test_provenance_without_git_or_base_still_validates() -> None:
    predicate = statements.provenance(replace(EVIDENCE, source=None, base=None, ci_run=None))
    json_format.ParseDict(predicate, provenance_pb2.Provenance())
    assert predicate["runDetails"]["metadata"]["invocationId"] == "hoist-run:20260101000000-abcdef"
    [config] = predicate["buildDefinition"]["resolvedDependencies"]
    assert config["name"] == "pipeline.yaml"


def test_the_gate_passes_only_when_every_gate_passed() -> None:
    passed = statements.gate(EVIDENCE)
    validated(statements.GATE_PREDICATE, passed)
    assert passed["verdict"] == "passed" and passed["reasons"] == []
    records = gate_records(None, None, ["smoke (--skip-smoke)"])
    skipped = statements.gate(replace(EVIDENCE, gates=records))
    assert skipped["verdict"] == "failed"
    assert skipped["reasons"] == ["lint skipped (no linter ran)", "smoke skipped (--skip-smoke)"]
    assert statements.gate(replace(EVIDENCE, gates=()))["verdict"] == "failed"


def test_the_actions_run_is_named_only_inside_actions() -> None:
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/tags/v1",
    }
    assert actions_run(environ) == (
        "https://github.com/acme/app/actions/runs/42/attempts/2",
        "acme/app/.github/workflows/release.yml@refs/tags/v1",
    )
    assert actions_run({**environ, "GITHUB_ACTIONS": "false"}) == (None, None)


def test_a_gate_passed_on_a_kept_verdict_says_which_run_verified_it() -> None:
    lint = LintResult([], ["hadolint"], [])
    smoke = SmokeResult("http://127.0.0.1:1", 0.5, ["1/1 checks passed"], [])
    kept = {"smoke": VerifiedBy("20261202-010203-abcd", "2026-12-02T01:02:03+00:00")}
    lint_record, smoke_record = gate_records(lint, smoke, [], kept)
    assert lint_record.verdict == smoke_record.verdict == "passed"
    assert "kept" not in lint_record.note  # lint ran in this run
    assert smoke_record.note == (
        "verdict kept from run 20261202-010203-abcd at 2026-12-02T01:02:03+00:00 (same inputs)"
    )
