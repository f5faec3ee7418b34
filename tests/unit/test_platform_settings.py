"""``build.platforms``, ``--platform`` and the image index, without an engine: what loads, the
one line for each mistake, the index JSON a registry will be given, and which run reports
``merge`` counts as a passed gate record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.attest.material import signing_skipped
from pipeline.build.platforms import Platform, image_platform, parse_platform
from pipeline.errors import ConfigError
from pipeline.platforms.merge import gate_records, merge, newest_per_platform, report_files
from pipeline.platforms.options import run_platforms
from pipeline.project import load_config
from pipeline.push.index import INDEX_TYPE, Child, digest_of, index_json
from pipeline.report import PlatformRecord, RunReport, write_report
from pipeline.result import StageResult, Status
from pipeline.tags.oci_labels import REVISION_LABEL

ARM64 = Platform("linux", "arm64")
AMD64 = Platform("linux", "amd64")
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def load(project: Path, build: str, extra: str = ""):  # type: ignore[no-untyped-def]
    path = project / "pipeline.yaml"
    path.write_text(f"image: app\nbuild:\n  context: app\n{build}{extra}")
    return load_config(path)


def test_no_platforms_is_todays_run(project: Path) -> None:
    config = load(project, "")
    assert config.build.platforms == ()
    assert run_platforms(config, None, False, ("lint", "build", "smoke", "push")) is None


def test_platforms_load_in_order(project: Path) -> None:
    config = load(project, "  platforms: [linux/amd64, linux/arm64/v8]\n")
    assert config.build.platforms == (AMD64, Platform("linux", "arm64", "v8"))
    assert [str(p) for p in config.build.platforms] == ["linux/amd64", "linux/arm64"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("  platforms: [arm64]\n", "build.platforms[0]: 'arm64' is not os/arch[/variant]"),
        ("  platforms: [linux/mips]\n", "build.platforms[0]: 'linux/mips': unknown architecture"),
        ("  platforms: [windows/amd64]\n", "build.platforms[0]: 'windows/amd64': only linux"),
        ("  platforms: [linux/arm64, linux/arm64/v8]\n", "build.platforms[1]: "),
        ("  platforms: linux/arm64\n  backend: classic\n", "build.platforms: needs BuildKit"),
        ("  platforms: {a: b}\n", "build.platforms: expected a list of strings"),
    ],
)
def test_bad_platforms_are_one_line_naming_the_field(
    project: Path, build: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(project, build)
    assert caught.value.exit_code == 2
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_flag_narrows_to_one_configured_platform(project: Path) -> None:
    config = load(project, "  platforms: [linux/amd64, linux/arm64]\n")
    stages = ("lint", "build", "smoke", "push")
    assert run_platforms(config, "linux/arm64", True, stages) == (ARM64,)
    with pytest.raises(ConfigError, match="--platform: linux/s390x is not in build.platforms"):
        run_platforms(config, "linux/s390x", True, stages)
    with pytest.raises(ConfigError, match="--by-digest: only means something when pushing"):
        run_platforms(config, None, True, ("lint", "build"))


def test_platforms_with_signing_sign_each_platform(project: Path) -> None:
    extra = "signing: {key: env://COSIGN_KEY}\n"
    config = load(project, "  platforms: [linux/arm64]\n", extra)
    assert run_platforms(config, None, False, ("push",)) == (ARM64,)


def test_platform_spelling_and_matching() -> None:
    assert parse_platform("linux/arm64").matches(parse_platform("linux/arm64/v8"))
    assert not parse_platform("linux/arm64").matches(AMD64)
    assert ARM64.descriptor() == {"os": "linux", "architecture": "arm64", "variant": "v8"}
    assert AMD64.descriptor() == {"os": "linux", "architecture": "amd64"}
    assert image_platform({"Architecture": "arm64", "Os": "linux"}) == ARM64
    assert ARM64.slug == "linux-arm64"


def test_index_json_is_an_oci_index_with_a_stable_digest() -> None:
    children = [Child(AMD64, "sha256:" + "a" * 64, 401, MANIFEST),
                Child(ARM64, "sha256:" + "b" * 64, 402, MANIFEST)]  # fmt: skip
    body = index_json(children)
    assert body == index_json(list(children))  # the same children: the same bytes
    index = json.loads(body)
    assert index["schemaVersion"] == 2 and index["mediaType"] == INDEX_TYPE
    assert index["manifests"][1] == {
        "mediaType": MANIFEST, "digest": "sha256:" + "b" * 64, "size": 402,
        "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
    }  # fmt: skip
    assert digest_of(body).startswith("sha256:") and len(digest_of(body)) == 71
    assert digest_of(index_json(children[::-1])) != digest_of(body)


COMMIT = "c" * 40


def _report(tmp_path: Path, smoke: Status, by_digest: bool = True, image: str = "app",
            revision: str = COMMIT) -> Path:  # fmt: skip
    report = RunReport(run_id=f"r-{smoke.value}-{by_digest}-{revision[:3]}", config="p.yaml",
                       image=image, started="now", tags=["test"], by_digest=by_digest,
                       labels={REVISION_LABEL: revision})  # fmt: skip
    report.stages = [StageResult(s, Status.PASSED, 1.0) for s in ("lint", "build")]
    report.stages += [StageResult("smoke", smoke, 1.0), StageResult("push", Status.PASSED, 1.0)]
    verdict = "passed" if smoke is Status.PASSED else "readiness failed"
    digest = "sha256:" + ("1" if smoke is Status.PASSED else "2") * 64
    report.platforms = [PlatformRecord("linux/arm64", "sha256:id", "built", verdict, digest)]
    return write_report(report, tmp_path / f"reports-{smoke.value}-{by_digest}-{image}-{revision}")


def test_only_passed_by_digest_runs_of_this_image_are_gate_records(tmp_path: Path) -> None:
    paths = [
        _report(tmp_path, Status.PASSED),
        _report(tmp_path, Status.FAILED),
        _report(tmp_path, Status.PASSED, by_digest=False),
        _report(tmp_path, Status.PASSED, image="other"),
    ]
    records = gate_records(paths, "app")
    assert list(records) == ["sha256:" + "1" * 64]
    assert records["sha256:" + "1" * 64][1].platform == "linux/arm64"
    read_back = RunReport.from_dict(json.loads(paths[0].read_text()))
    assert read_back.platforms[0].passed and read_back.by_digest


def test_an_unsigned_push_is_a_gate_record_only_for_a_merge_that_does_not_sign(
    tmp_path: Path,
) -> None:
    path = _report(tmp_path, Status.PASSED)
    report = RunReport.from_dict(json.loads(path.read_text()))
    report.skipped_gates = ["signing (env://COSIGN_PRIVATE_KEY not set; signing.required: false)"]
    unsigned = write_report(report, tmp_path / "unsigned")
    assert list(gate_records([unsigned], "app")) == ["sha256:" + "1" * 64]
    assert gate_records([unsigned], "app", signed=True) == {}
    report.skipped_gates = ["smoke (--skip-smoke)"]
    assert gate_records([write_report(report, tmp_path / "no-smoke")], "app") == {}


def test_a_passed_run_of_another_commit_is_no_gate_record_for_this_one(tmp_path: Path) -> None:
    """Every run's report may lie in one directory (a runner's state dir; all of act's jobs on
    one host): a stale passed run of an older commit must not be merged into this release."""
    stale = _report(tmp_path, Status.PASSED, revision="0" * 40)
    this = _report(tmp_path, Status.PASSED)
    digest = "sha256:" + "1" * 64
    assert gate_records([stale, this], "app", COMMIT)[digest][0].labels[REVISION_LABEL] == COMMIT
    assert gate_records([stale], "app", COMMIT) == {}
    assert list(gate_records([stale], "app")) == [digest]  # outside git: no commit to match


def test_report_files_reads_directories_and_refuses_a_missing_file(tmp_path: Path) -> None:
    path = _report(tmp_path, Status.PASSED)
    assert report_files([str(path.parent)], tmp_path) == [path]
    with pytest.raises(ConfigError, match="--report: .* not found"):
        report_files([str(tmp_path / "nope.json")], tmp_path)


def test_without_digests_merge_takes_each_platforms_newest_record() -> None:
    def run(run_id: str, platform: str, digest: str) -> tuple[RunReport, PlatformRecord]:
        report = RunReport(run_id=run_id, config="p", image="app", started="s")
        return report, PlatformRecord(platform, smoke="passed", digest=digest)

    records = dict([
        ("sha256:old", run("20260101000000-aaaaaa", "linux/arm64", "sha256:old")),
        ("sha256:new", run("20260102000000-bbbbbb", "linux/arm64", "sha256:new")),
        ("sha256:amd", run("20260102000001-cccccc", "linux/amd64", "sha256:amd")),
    ])  # fmt: skip
    assert newest_per_platform(records) == ["sha256:new", "sha256:amd"]


def test_a_merge_without_its_optional_key_records_signing_as_skipped(project: Path) -> None:
    """As a run does: the summary and the report say the index went out unsigned. The target
    is a closed port on 127.0.0.1, so the merge stops at its registry check, recorded."""
    config = load(project, "", "registries:\n  - kind: generic\n    repository: "
                  "127.0.0.1:9/team/app\nsigning:\n  required: false\n")  # fmt: skip
    record = _report(project, Status.PASSED)
    environ = {"REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "pw"}
    report = merge(config, ["sha256:" + "1" * 64], [record], [], environ, lambda line: None)
    assert report.error  # nothing answered at the target
    assert report.skipped_gates == [signing_skipped(config.signing)]
    assert report.skipped_gates[0].startswith("signing (env://COSIGN_PRIVATE_KEY not set")
