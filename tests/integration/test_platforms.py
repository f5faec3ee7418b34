"""Several platforms through the gates, on the real engine with qemu and real registries.

The small service app (Python's http.server on the offline python stand-ins) is built for
linux/amd64 and linux/arm64 — the arm64 base from the session's ``python_base_arm64``, built
once per run — and each platform is smoke-tested on its platform (arm64 under qemu). Checked
from outside hoist: the registry's index (``skopeo inspect --raw``), the tag pulled for
arm64 and run, what a registry holds after a failed gate, and ``merge``'s refusals.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pipeline.attest.store import ArtifactStore, attestation_tag, signature_tag
from pipeline.push.registries.kinds import Credentials
from pipeline.push.registry_server import RegistryServer, free_port
from tests.conftest import run_invoke
from tests.support.reliability import (
    RegistryReader,
    embedded_registry_state,
    make_service_project,
    service_config,
    unique_image,
    write_config,
)
from tests.support.server_engine import ServerEngine, start_server_engine, stop_server_engine

pytestmark = pytest.mark.integration

REPOSITORY = "team/multi"
PLATFORMS = ["linux/amd64", "linux/arm64"]
# The base comes through the ARG, so each platform gets its own stand-in; the build records
# the machine it ran on, which the smoke check below can read back over HTTP.
DOCKERFILE = """\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
WORKDIR /srv
COPY index.html ./
RUN uname -m > /srv/arch.txt
USER 1000:1000
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
"""


@pytest.fixture
def project(tmp_path: Path, python_base: str, python_base_arm64: str) -> Path:
    return make_service_project(tmp_path / "project", {"Dockerfile": DOCKERFILE})


@pytest.fixture
def team(registry_factory, hoist_state) -> tuple[RegistryServer, dict[str, str]]:  # type: ignore[no-untyped-def]
    server = registry_factory(username="ci-bot")
    env = {**hoist_state, "REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": server.password}
    return server, env


@pytest.fixture
def images(docker_client) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Repositories a test built or pulled: every image there is removed afterwards, by id."""
    made: list[str] = []
    yield made
    for repository in made:
        for image in docker_client.images.list(name=repository):
            docker_client.images.remove(image.id, force=True)


def _config(project: Path, server: RegistryServer, images: list[str], **extra: object) -> Path:
    image = unique_image("platforms")
    images += [image, f"{server.address}/{REPOSITORY}"]
    registries = [
        {"kind": "generic", "name": "team", "endpoint": server.address,
         "repository": f"registry.example.com/{REPOSITORY}"},
        {"kind": "local"},
    ]  # fmt: skip
    build = {"context": "app", "platforms": PLATFORMS}
    sections = {"build": build, "registries": registries, **extra}
    return write_config(project, service_config(image, **sections))


def _raw(reference: str, username: str, password: str) -> bytes:
    """``skopeo inspect --raw``: the manifest bytes exactly as the registry serves them."""
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false",
         "--creds", f"{username}:{password}", f"docker://{reference}"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def _report(env: dict[str, str], name: str = "reports") -> dict:  # type: ignore[type-arg]
    return json.loads((Path(env["HOIST_STATE_DIR"]) / name / "last.json").read_text())


def test_two_platforms_one_index_everywhere_and_arm64_runs_aarch64(  # type: ignore[no-untyped-def]
    project, team, images, docker_client
):
    server, env = team
    config = _config(project, server, images)

    result = run_invoke("ci", "--config", str(config), env=env, timeout=1200)

    assert result.returncode == 0, result.stdout + result.stderr
    report = _report(env)
    assert [(p["platform"], p["smoke"]) for p in report["platforms"]] == [
        ("linux/amd64", "passed"), ("linux/arm64", "passed")
    ]  # fmt: skip
    children = {p["platform"]: p["digest"] for p in report["platforms"]}
    for platform, digest in children.items():  # the summary shows each platform's digest
        assert any(platform in line and digest in line for line in result.stdout.splitlines())
    # Every tag at both registries serves one index, byte for byte, listing the two children.
    index_digest = report["pushes"][0]["digest"]
    assert [p["digest"] for p in report["pushes"]] == [index_digest, index_digest]
    state, local_password = embedded_registry_state(Path(env["HOIST_STATE_DIR"]))
    local_ref = report["pushes"][1]["repository"]
    raws = {
        _raw(f"{server.address}/{REPOSITORY}:{tag}", server.username, server.password)
        for tag in report["tags"]
    } | {_raw(f"{local_ref}:{tag}", state["username"], local_password) for tag in report["tags"]}
    assert len(raws) == 1, "the registries serve different indexes"
    index = json.loads(raws.pop())
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    listed = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
              for m in index["manifests"]}  # fmt: skip
    assert listed == children
    # Pulled by tag for arm64 and run: the arm64 image, on this amd64 host, under qemu.
    reader = RegistryReader(server.address, server.username, server.password)
    assert reader.manifest(REPOSITORY, children["linux/arm64"]) is not None
    auth = {"username": server.username, "password": server.password}
    pulled = docker_client.images.pull(
        f"{server.address}/{REPOSITORY}", tag="test", platform="linux/arm64", auth_config=auth
    )
    assert pulled.attrs["Architecture"] == "arm64"
    output = docker_client.containers.run(pulled.id, ["uname", "-m"], remove=True)
    assert output.decode().strip() == "aarch64"

    # A warm rerun: the registry already serves both children for these very images, so
    # neither is exported and uploaded again, and every digest stays what it was.
    again = run_invoke("ci", "--config", str(config), env=env, timeout=1200)

    assert again.returncode == 0, again.stdout + again.stderr
    for platform, digest in children.items():
        assert any(
            f"{platform}: already there: " in line
            and line.endswith(f"@{digest} (nothing to upload)")
            for line in again.stdout.splitlines()
        ), platform
    rerun = _report(env)
    assert {p["platform"]: p["digest"] for p in rerun["platforms"]} == children
    assert [p["digest"] for p in rerun["pushes"]] == [index_digest, index_digest]


@pytest.fixture
def server() -> Iterator[ServerEngine]:
    engine = start_server_engine()
    yield engine
    stop_server_engine(engine)


def test_deploy_of_the_index_runs_the_servers_own_platform(  # type: ignore[no-untyped-def]
    project, team, images, server
):
    registry, env = team
    live = free_port()
    container = f"multi-{secrets.token_hex(3)}"
    deploy = {"staging": {"container": container, "ports": [f"{live}:8000"], "stop_timeout": 2}}
    signing = {"public_key": "cosign.pub"}  # deploy verifies the index and every platform's
    config = _config(project, registry, images, deploy=deploy, signing=signing)
    env = _with_keys(project, env)
    pushed = run_invoke("ci", "--to", "team", "--config", str(config), env=env, timeout=1200)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    report = _report(env)

    deployed = run_invoke("deploy", "--config", str(config), "--host", server.host, env=env,
                          timeout=300)  # fmt: skip

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    index_digest = report["pushes"][0]["digest"]
    assert f"@{index_digest} (index of 2)" in deployed.stdout
    for record in report["platforms"]:
        assert f"{record['platform']}: {record['digest']}" in deployed.stdout
    client = docker.DockerClient(base_url=server.host, timeout=60)
    running = client.containers.get(container)
    assert running.attrs["Config"]["Image"].endswith(f"@{report['pushes'][0]['digest']}")
    assert running.image.attrs["Architecture"] == "amd64"  # the server's own, from the index
    amd64 = next(p["digest"] for p in report["platforms"] if p["platform"] == "linux/amd64")
    reader = RegistryReader(registry.address, registry.username, registry.password)
    child = reader.manifest(REPOSITORY, amd64)
    assert child is not None and running.image.id == child[1]["config"]["digest"]
    status = run_invoke("status", "--config", str(config), "--host", server.host, env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "platform   linux/amd64" in status.stdout


def test_a_smoke_failure_on_arm64_only_pushes_nothing_for_either(  # type: ignore[no-untyped-def]
    project, team, images
):
    server, env = team
    # /arch.txt holds the build machine's `uname -m`: right on amd64, wrong under arm64.
    arch = {"path": "/arch.txt", "expect_status": 200, "expect_body": "x86_64"}
    smoke = {"port": 8000, "path": "/", "expect_body": "hoist service", "timeout": 60,
             "stop_timeout": 0, "checks": [arch]}  # fmt: skip
    config = _config(project, server, images, smoke=smoke)

    result = run_invoke("ci", "--config", str(config), env=env, timeout=1200)

    assert result.returncode == 1, result.stdout + result.stderr
    report = _report(env)
    stages = [(s["stage"], s["status"]) for s in report["stages"]]
    assert stages == [("lint", "passed"), ("build", "passed"), ("smoke", "failed")]
    verdicts = {p["platform"]: p["smoke"] for p in report["platforms"]}
    assert verdicts["linux/amd64"] == "passed"
    assert verdicts["linux/arm64"] != "passed" and "arch.txt" in verdicts["linux/arm64"]
    assert report["pushes"] == [] and all(p["digest"] is None for p in report["platforms"])
    reader = RegistryReader(server.address, server.username, server.password)
    assert reader.tags(REPOSITORY) == []
    catalog = reader.session.get(f"{reader.base}/v2/_catalog", timeout=30).json()
    assert catalog["repositories"] == [], "a platform's manifest reached the registry"
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("hoist: error:")]
    assert "1 of 2 platform(s) failed, nothing is pushed: linux/arm64:" in line


def test_matrix_jobs_push_by_digest_and_merge_checks_each(  # type: ignore[no-untyped-def]
    project, team, images, tmp_path
):
    server, env = team
    config = _config(project, server, images)
    reader = RegistryReader(server.address, server.username, server.password)
    digests = {}
    for platform in PLATFORMS:  # what each job of the matrix runs
        args = ("push", "--platform", platform, "--by-digest", "--to", "team")
        job = run_invoke(*args, "--config", str(config), env=env, timeout=1200)
        assert job.returncode == 0, job.stdout + job.stderr
        [record] = _report(env)["platforms"]
        assert (record["platform"], record["smoke"]) == (platform, "passed")
        digests[platform] = record["digest"]
    assert reader.tags(REPOSITORY) == [], "a by-digest push tagged something"
    reports = Path(env["HOIST_STATE_DIR"]) / "reports"
    arguments = [a for d in digests.values() for a in ("--digest", d)]

    # No gate record for the digests (an empty directory of reports): refused, nothing put.
    empty = tmp_path / "no-reports"
    empty.mkdir()
    refused = run_invoke("merge", *arguments, "--report", str(empty), "--to", "team",
                         "--config", str(config), env=env)  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "no passed gate record" in refused.stderr
    # A record claiming another platform than the registry holds: refused, nothing put.
    forged = tmp_path / "forged"
    forged.mkdir()
    for path in reports.glob("run-*.json"):
        data = json.loads(path.read_text())
        for record in data["platforms"]:
            if record["platform"] == "linux/arm64":
                record["platform"] = "linux/s390x"
        (forged / path.name).write_text(json.dumps(data))
    wrong = run_invoke("merge", *arguments, "--report", str(forged), "--to", "team",
                       "--config", str(config), env=env)  # fmt: skip
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "the registry holds a linux/arm64 image, its gate record claims linux/s390x" in (
        wrong.stderr
    )
    assert reader.tags(REPOSITORY) == []

    merged = run_invoke("merge", *arguments, "--report", str(reports), "--to", "team",
                        "--config", str(config), env=env)  # fmt: skip

    assert merged.returncode == 0, merged.stdout + merged.stderr
    report = _report(env, "merges")
    assert sorted(reader.tags(REPOSITORY)) == sorted(report["tags"])
    raw = _raw(f"{server.address}/{REPOSITORY}:test", "ci-bot", server.password)
    assert [m["digest"] for m in json.loads(raw)["manifests"]] == list(digests.values())
    assert report["pushes"][0]["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_each_platform_writes_its_own_layer_cache_that_a_fresh_engine_reads(  # type: ignore[no-untyped-def]
    project, team, images, server, docker_client, python_base, python_base_arm64
):
    registry, env = team
    build = {"context": "app", "platforms": PLATFORMS, "cache": "registry"}
    config = _config(project, registry, images, build=build)
    reader = RegistryReader(registry.address, registry.username, registry.password)

    passed = run_invoke("smoke", "--config", str(config), env=env, timeout=1200)

    assert passed.returncode == 0, passed.stdout + passed.stderr
    refs = {p: f"{registry.address}/{REPOSITORY}:buildcache-{p.replace('/', '-')}"
            for p in PLATFORMS}  # fmt: skip
    for ref in refs.values():
        assert f"cache: written to {ref}" in passed.stdout
    assert sorted(reader.tags(REPOSITORY)) == ["buildcache-linux-amd64", "buildcache-linux-arm64"]
    for platform, ref in refs.items():  # an image of its own platform, carrying BuildKit's cache
        cached = reader.config(REPOSITORY, ref.rsplit(":", 1)[1])
        assert f"{cached['os']}/{cached['architecture']}" == platform
        assert "moby.buildkit.cache.v0" in cached
    # A fresh engine (a new CI runner: the two bases, nothing else) builds from those refs.
    fresh = docker.DockerClient(base_url=server.host, timeout=120)
    for base in (python_base, python_base_arm64):
        fresh.images.load(b"".join(docker_client.images.get(base).save(named=True)))
    rebuilt = run_invoke("build", "--config", str(config),
                         env={**env, "DOCKER_HOST": server.host}, timeout=1200)  # fmt: skip

    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    for platform, ref in refs.items():
        assert f"[{platform}] cache: reading {ref}" in rebuilt.stdout
    for record in _report(env)["platforms"]:
        steps = re.search(r", (\d+)/(\d+) steps cached$", record["build"])
        assert steps and steps[1] == steps[2] != "0", record


def test_a_signed_index_verifies_each_platform_and_a_tampered_child_fails(  # type: ignore[no-untyped-def]
    project, team, images
):
    server, env = team
    config = _config(project, server, images, signing={"public_key": "cosign.pub"})
    env = _with_keys(project, env)

    pushed = run_invoke("ci", "--to", "team", "--config", str(config), env=env, timeout=1200)

    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    report = _report(env)
    index_digest = report["pushes"][0]["digest"]
    children = {p["platform"]: p["digest"] for p in report["platforms"]}
    signed = {a["digest"]: a["attestations"] for a in report["attestations"]}
    assert signed == {
        index_digest: [],  # the index: a signature; each platform: its own attestations
        **{d: ["provenance", "gate", "sbom:cyclonedx"] for d in children.values()},
    }
    reference = f"{server.address}/{REPOSITORY}:test"
    verified = run_invoke("verify", reference, "--config", str(config), env=env, cwd=project)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lines = verified.stdout.splitlines()
    assert lines[1].startswith("signature   ok  ") and lines[1].endswith(
        f"@{index_digest} (index of 2)"
    )
    for platform, digest in children.items():
        at = lines.index(f"{platform}: {digest}")
        assert lines[at + 1].endswith(f"signed registry.example.com/{REPOSITORY}@{digest}")
        assert [line.split()[0] for line in lines[at + 2 : at + 5]] == ["sbom", "provenance",
                                                                         "gate"]  # fmt: skip
    store = ArtifactStore("team", server.address, Credentials(server.username, server.password))
    for platform, digest in children.items():  # each SBOM lists its own platform's packages
        [statement] = _statements(store, digest, "https://cyclonedx.org/bom")
        purls = [c.get("purl", "") for c in statement["predicate"]["components"]]
        arch = platform.split("/")[1]
        assert any(f"arch={arch}" in purl for purl in purls), platform
        assert not any("arch=" in p and f"arch={arch}" not in p and "arch=all" not in p
                       for p in purls), platform  # fmt: skip
    # The amd64 image's signature put next to the arm64 image: that one no longer verifies.
    copied = store.read(REPOSITORY, signature_tag(children["linux/amd64"]))
    assert copied is not None
    store.write(REPOSITORY, signature_tag(children["linux/arm64"]), copied)

    refused = run_invoke("verify", reference, "--config", str(config), env=env, cwd=project)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"hoist: error: {server.address}/{REPOSITORY}@{children['linux/arm64']}")
    assert ": signature: " in line


def test_matrix_jobs_sign_their_images_and_merge_signs_the_index_at_every_target(  # type: ignore[no-untyped-def]
    project, team, images
):
    server, env = team
    config = _config(project, server, images, signing={"public_key": "cosign.pub"})
    env = _with_keys(project, env)
    for platform in PLATFORMS:  # each job signs the image it pushed by digest, nothing else
        args = ("push", "--platform", platform, "--by-digest", "--to", "team")
        job = run_invoke(*args, "--config", str(config), env=env, timeout=1200)
        assert job.returncode == 0, job.stdout + job.stderr
        report = _report(env)
        assert [(a["digest"], a["attestations"]) for a in report["attestations"]] == [
            (report["platforms"][0]["digest"], ["provenance", "gate", "sbom:cyclonedx"])
        ]

    merged = run_invoke("merge", "--config", str(config), env=env)

    assert merged.returncode == 0, merged.stdout + merged.stderr
    report = _report(env, "merges")
    index_digest = report["pushes"][0]["digest"]
    assert [(a["target"], a["digest"]) for a in report["attestations"]] == [
        (p["target"], index_digest) for p in report["pushes"]
    ]
    # The second target got the index by copy: the jobs' signatures were copied with it.
    local = report["pushes"][1]["repository"]
    verified = run_invoke("verify", f"{local}:test", "--config", str(config), env=env,
                          cwd=project)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[1].endswith(f"@{index_digest} (index of 2)")
    assert verified.stdout.count("gate        ok  passed") == 2


def _with_keys(project: Path, env: dict[str, str]) -> dict[str, str]:
    """A key pair made by `invoke keygen`, handed over as CI does (secret variables)."""
    env = {**env, "COSIGN_PASSWORD": "pw-" + secrets.token_urlsafe(12)}
    keygen = run_invoke("keygen", "--dir", str(project), env=env, cwd=project)
    assert keygen.returncode == 0, keygen.stdout + keygen.stderr
    return {**env, "COSIGN_PRIVATE_KEY": (project / "cosign.key").read_text()}


def _statements(store: ArtifactStore, digest: str, predicate_type: str) -> list[dict]:  # type: ignore[type-arg]
    """The in-toto statements of one type attached to ``digest`` (DSSE payloads, unverified:
    `invoke verify` checked the signatures)."""
    layers = store.read(REPOSITORY, attestation_tag(digest)) or []
    envelopes = [json.loads(layer.data) for layer in layers
                 if layer.annotations.get("predicateType") == predicate_type]  # fmt: skip
    return [json.loads(base64.b64decode(e["payload"])) for e in envelopes]
