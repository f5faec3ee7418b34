"""release.yml's platform matrix, run for real by nektos/act: one job per platform, then merge.

A tag push ``v1.2.3`` with the repository variable ``HOIST_PLATFORMS`` set to two legs
(linux/amd64 and linux/arm64, both on ``ubuntu-latest``, which ``-P`` maps to this host in
act's self-hosted mode) runs the ``platform`` matrix: each leg runs ``make setup`` and
``invoke push --platform P --by-digest`` — every gate on its platform, arm64 under qemu — and
pushes its image by digest, tagging nothing; the ``merge`` job then runs ``invoke merge``,
which checks each digest against its gate record and the registry and puts one image index
under every tag. Checked from outside hoist: ``skopeo inspect --raw`` of every tag at the
registry, while a newer passed arm64 record of another commit lies in the reports directory
merge reads (it must not be merged). A variant whose smoke check fails on arm64 only
(``/arch.txt`` holds the build machine's ``uname -m``) fails that leg; merge never runs and
no tag exists.

The scratch repository is a clone of HEAD (the workflows, Makefile and hoist itself, as
``make setup`` needs them) whose ``pipeline.yaml`` is replaced by the small python service
app's, with ``build.platforms`` and one real registry (``registry_factory``).

How the gate records reach the merge job (the honest part): on GitHub each leg uploads its
``.hoist/reports/run-*.json`` as an artifact and merge downloads them into ``.hoist/reports``.
act cannot fetch upload/download-artifact offline, so those steps are skipped under act
(``env.ACT``) and replaced by what act really offers: every job runs on this one host with
one ``HOIST_STATE_DIR`` (``--env``), so each leg's report lands in the directory merge reads
by default. That directory also holds other commits' reports (the stale-record case), and
merge takes only gate records built from the commit being released (their revision label =
``GITHUB_SHA``; ``tests/unit/test_platform_settings.py``). The legs run side by side on one
engine (on GitHub each has a machine of its own): both runs give their image the same local
tags, the last build keeping them, which is harmless — each pushes its own image by id, and
merge checks every child's platform at the registry — and the fixture removes both by id.

Digests as job outputs: GitHub merges a matrix's job outputs into one set (the last leg to
finish wins), so the platform job declares none; each leg's push step writes its digest to
its step outputs (``platforms``), which the test reads from act's log and compares with the
index the registry serves. The venv tricks are test_workflows_act's (conftest's
``ready_venv``, built once per session, symlinked as ``.venv``, its stamp dated ahead;
node_modules likewise).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker.errors import NotFound

from pipeline.push.registry_server import RegistryServer
from pipeline.report import PlatformRecord, RunReport, write_report
from pipeline.result import StageResult, Status
from pipeline.tags.oci_labels import REVISION_LABEL
from tests.integration.test_platforms import DOCKERFILE
from tests.integration.test_workflows_act import (
    ACT,
    STAND_IN_ACTION,
    ActRun,
    git,
    remote_actions,
    repository_payload,
)
from tests.support.reliability import RegistryReader, service_config, unique_image

pytestmark = pytest.mark.integration

PLATFORMS = ["linux/amd64", "linux/arm64"]
MATRIX = [{"platform": p, "runner": "ubuntu-latest"} for p in PLATFORMS]
REPOSITORY = "team/release"
TAG = "v1.2.3"


@pytest.fixture(scope="module")
def ready_base(ready_venv: Path) -> Path:
    """The session's clone with its virtualenv, plus node-app's dependencies installed once
    (``make setup`` wants them in every job even though this app does not use node)."""
    base = ready_venv.parent
    result = subprocess.run(
        ["make", "node-app/node_modules/.installed"],
        cwd=base, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    ahead = time.time() + 7 * 24 * 3600  # newer than act's copy of package.json
    os.utime(base / "node-app" / "node_modules" / ".installed", (ahead, ahead))
    return base


@pytest.fixture
def state(tmp_path: Path, docker_client) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The jobs' shared HOIST_STATE_DIR; afterwards every image its run reports name is
    removed by id (both legs tag theirs alike, so one may have lost its tags)."""
    root = tmp_path / "hoist-state"
    yield root
    for path in sorted((root / "reports").glob("run-*.json")):
        report = json.loads(path.read_text())
        for image_id in {report.get("image_id"), *(p["image_id"] for p in report["platforms"])}:
            if image_id:
                with contextlib.suppress(NotFound):
                    docker_client.images.remove(image_id, force=True)


def leg_reports(state: Path, sha: str) -> dict[str, dict[str, Any]]:
    """Each leg's run report (its gate record) of commit ``sha``, by the one platform it ran."""
    found = {}
    for path in sorted((state / "reports").glob("run-*.json")):
        report = json.loads(path.read_text())
        if report["labels"].get(REVISION_LABEL) != sha:
            continue
        [record] = report["platforms"]
        found[record["platform"]] = report
    return found


def release_repo(root: Path, base: Path, server: RegistryServer, **sections: Any) -> Path:
    """A clone of HEAD holding the service app, its pipeline.yaml, tagged v1.2.3 and checked out."""
    git(base, "clone", "-q", str(base), str(root))
    git(root, "checkout", "-q", "-B", "main")
    (root / "app").mkdir()
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    (root / "app" / "index.html").write_text("<h1>hoist service</h1>\n")
    image = unique_image("release-matrix")
    head = yaml.safe_load((base / "pipeline.yaml").read_text())["metadata"]
    registries = [{"kind": "generic", "name": "team", "endpoint": server.address,
                   "repository": f"registry.example.com/{REPOSITORY}"}]  # fmt: skip
    config = service_config(
        image,
        build={"context": "app", "platforms": PLATFORMS},
        registries=registries,
        metadata={"tags": head["tags"], "flavor": head["flavor"]},  # semver tags and latest
        **sections,
    )
    (root / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "test: the service app on two platforms")
    git(root, "tag", TAG)
    git(root, "checkout", "-q", TAG)
    (root / ".venv").symlink_to(base / ".venv")
    (root / "node-app" / "node_modules").symlink_to(base / "node-app" / "node_modules")
    return root


def act_release(root: Path, server: RegistryServer, state: Path) -> ActRun:
    """act runs release.yml for the tag push with HOIST_PLATFORMS set: the matrix path."""
    sha = git(root, "rev-parse", "HEAD")
    event = {"ref": f"refs/tags/{TAG}", "before": "0" * 40, "after": sha, "deleted": False,
             "base_ref": "refs/heads/main", "repository": repository_payload(),
             "head_commit": {"id": sha}}  # fmt: skip
    event_file = root.parent / "push.json"
    event_file.write_text(json.dumps(event))
    stand_in = root.parent / "stand-in-action"
    stand_in.mkdir()
    (stand_in / "action.yml").write_text(STAND_IN_ACTION)
    workflow = root / ".github" / "workflows" / "release.yml"
    command = [
        str(ACT), "push", "--workflows", ".github/workflows/release.yml",
        "--platform", "ubuntu-latest=-self-hosted",
        "--action-offline-mode", "--no-cache-server",
        "--action-cache-path", str(root.parent / "act-cache"), "--use-gitignore=false",
        "--defaultbranch", "main", "--eventpath", str(event_file), "--json",
        "--env", f"HOIST_STATE_DIR={state}",
        "--var", f"HOIST_PLATFORMS={json.dumps(MATRIX)}",
        "--var", f"REGISTRY_USERNAME={server.username}",
        "--secret", f"REGISTRY_PASSWORD={server.password}",
        *(f"--local-repository={a}={stand_in}" for a in remote_actions(workflow)),
    ]  # fmt: skip
    ours = ("GITHUB_", "RUNNER_", "HOIST_", "VIRTUAL_ENV", "ACT")  # act sets its own
    environ = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    started = time.monotonic()
    result = subprocess.run(command, cwd=root, env=environ, capture_output=True, text=True,
                            timeout=1500, check=False)  # fmt: skip
    return ActRun.of(result, time.monotonic() - started)


def leg(run: ActRun, platform: str) -> list[dict[str, Any]]:
    """The log entries of the platform job's leg for ``platform`` (act names legs by matrix)."""
    return [
        e for e in run.entries
        if e.get("jobID") == "platform" and (e.get("matrix") or {}).get("platform") == platform
    ]  # fmt: skip


def leg_result(run: ActRun, platform: str) -> str | None:
    results = [e["jobResult"] for e in leg(run, platform) if "jobResult" in e]
    return results[-1] if results else None


def leg_digests(run: ActRun, platform: str) -> dict[str, str]:
    """What the leg's push step wrote to ``$GITHUB_OUTPUT`` as ``platforms``."""
    [value] = [e["arg"] for e in leg(run, platform)
               if e.get("command") == "set-output" and e.get("name") == "platforms"]  # fmt: skip
    digests: dict[str, str] = json.loads(value)
    return digests


def raw(server: RegistryServer, tag: str) -> bytes:
    """``skopeo inspect --raw``: the manifest bytes exactly as the registry serves them."""
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false",
         "--creds", f"{server.username}:{server.password}",
         f"docker://{server.address}/{REPOSITORY}:{tag}"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def stale_record(state: Path, image: str) -> str:
    """A passed arm64 gate record of another commit, newer than any run of this test, in the
    directory merge reads: what a runner's state dir keeps from an earlier release."""
    digest = "sha256:" + "f" * 64
    report = RunReport(run_id="99991231235959-stale0", config="pipeline.yaml", image=image,
                       started="2026-01-01T00:00:00+00:00", tags=["1.2.3"], by_digest=True,
                       labels={REVISION_LABEL: "0" * 40})  # fmt: skip
    report.stages = [StageResult(s, Status.PASSED, 1.0) for s in ("lint", "build", "smoke", "push")]
    report.platforms = [PlatformRecord("linux/arm64", smoke="passed", digest=digest)]
    write_report(report, state / "reports")
    return digest


def figure(name: str, run: ActRun) -> None:
    print(
        f"\nFIGURE release.yml matrix under act ({name}): {run.seconds:.0f} s wall for the act run"
    )


def test_the_matrix_gates_each_platform_and_merge_puts_one_index_under_every_tag(  # type: ignore[no-untyped-def]
    ready_base, registry_factory, python_base, python_base_arm64, state, tmp_path
):
    server = registry_factory(username="ci-bot")
    root = release_repo(tmp_path / "repo", ready_base, server)
    sha = git(root, "rev-parse", "HEAD")
    image = yaml.safe_load((root / "pipeline.yaml").read_text())["image"]
    stale = stale_record(state, image)

    run = act_release(root, server, state)

    figure("two legs and merge", run)
    assert run.returncode == 0, run.log[-8000:]
    assert "release" not in run.jobs(), "the one-job release must not run beside the matrix"
    records = leg_reports(state, sha)
    assert sorted(records) == PLATFORMS
    children = {}
    for platform in PLATFORMS:
        assert leg_result(run, platform) == "success", run.log[-8000:]
        # every gate ran in this leg, on its platform, and its push was by digest only
        report = records[platform]
        assert [(s["stage"], s["status"]) for s in report["stages"]] == [
            (stage, "passed") for stage in ("lint", "build", "smoke", "push")
        ]  # fmt: skip
        assert report["by_digest"] and report["platforms"][0]["smoke"] == "passed"
        [(reported, digest)] = leg_digests(run, platform).items()
        assert (reported, digest) == (platform, report["platforms"][0]["digest"])
        children[platform] = digest
    arm64_log = "\n".join(str(e.get("msg", "")) for e in leg(run, "linux/arm64"))
    assert "smoke passed (ready in" in arm64_log and "emulated)" in arm64_log
    assert run.job_result("merge") == "success"
    tags = ["1.2.3", "1.2", "1", f"sha-{sha[:7]}", "latest"]
    reader = RegistryReader(server.address, server.username, server.password)
    assert sorted(reader.tags(REPOSITORY)) == sorted(tags)
    served = {raw(server, tag) for tag in tags}
    assert len(served) == 1, "the tags serve different manifests"
    body = served.pop()
    index = json.loads(body)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    listed = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
              for m in index["manifests"]}  # fmt: skip
    assert len(index["manifests"]) == 2 and listed == children
    assert stale not in body.decode(), "another commit's gate record was merged"
    merged = run.outputs("merge", "merge")
    assert merged["digest"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert json.loads(merged["platforms"]) == children
    assert server.password not in run.log and "Traceback" not in run.log


def test_an_arm64_smoke_failure_fails_its_leg_and_nothing_is_merged(  # type: ignore[no-untyped-def]
    ready_base, registry_factory, python_base, python_base_arm64, state, tmp_path
):
    """act does not cancel the running amd64 leg (GitHub's fail-fast may): it passes and
    pushes its image by digest, which nothing references, since no tag moves."""
    server = registry_factory(username="ci-bot")
    # /arch.txt holds the build machine's `uname -m`: right on amd64, wrong under arm64.
    arch = {"path": "/arch.txt", "expect_status": 200, "expect_body": "x86_64"}
    smoke = {"port": 8000, "path": "/", "expect_body": "hoist service", "timeout": 60,
             "stop_timeout": 0, "checks": [arch]}  # fmt: skip
    root = release_repo(tmp_path / "repo", ready_base, server, smoke=smoke)
    sha = git(root, "rev-parse", "HEAD")

    run = act_release(root, server, state)

    figure("arm64 leg failing", run)
    assert run.returncode != 0
    assert leg_result(run, "linux/arm64") == "failure", run.log[-8000:]
    arm64 = leg_reports(state, sha)["linux/arm64"]
    assert [(s["stage"], s["status"]) for s in arm64["stages"]][-1] == ("smoke", "failed")
    assert "arch.txt" in arm64["platforms"][0]["smoke"] and arm64["pushes"] == []
    assert "merge" not in run.jobs(), "merge ran after a failed leg"
    reader = RegistryReader(server.address, server.username, server.password)
    assert reader.tags(REPOSITORY) == [], "a tag exists after a failed leg"
