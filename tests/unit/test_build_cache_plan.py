"""The registry layer cache: flags per CLI, the plan a run makes, the private docker config."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pipeline.build.backend import BuildkitCli
from pipeline.build.cache import (
    CachePlan,
    RegistryLogin,
    docker_config_with,
    platform_ref,
    read_flags,
    registry_host,
    usable_with,
    write_flags,
)
from pipeline.build.settings import CacheConfig
from pipeline.push.cache import cache_plan
from pipeline.push.registries.base import TargetConfig

BUILTIN = BuildkitCli("/usr/bin/docker", "20.10.24", buildx=False)
BUILDX = BuildkitCli("/usr/local/bin/docker", "0.23.0", buildx=True)
MIRROR = TargetConfig(
    kind="generic", name="team", repository="registry.example.com/team/app",
    endpoint="127.0.0.1:5999",
)  # fmt: skip
CREDENTIALS = {"REGISTRY_USERNAME": "ci-bot", "REGISTRY_PASSWORD": "s3cret-pass"}


def test_the_2010_cli_reads_image_refs_and_writes_its_cache_inline() -> None:
    plan = CachePlan(("r.io/a:buildcache",), "r.io/a:buildcache")
    assert read_flags(BUILTIN, plan) == [
        "--cache-from", "r.io/a:buildcache", "--build-arg", "BUILDKIT_INLINE_CACHE=1",
    ]  # fmt: skip
    read_only = CachePlan(("r.io/a:buildcache",), None)
    assert read_flags(BUILTIN, read_only) == ["--cache-from", "r.io/a:buildcache"]


def test_buildx_reads_and_writes_the_whole_graph() -> None:
    plan = CachePlan(("r.io/a:c1", "r.io/a:c2"), "r.io/a:c1")
    assert read_flags(BUILDX, plan) == [
        "--cache-from", "type=registry,ref=r.io/a:c1",
        "--cache-from", "type=registry,ref=r.io/a:c2",
    ]  # fmt: skip
    assert write_flags("r.io/a:c1") == ["--cache-to", "type=registry,ref=r.io/a:c1,mode=max"]
    gha = CachePlan(("gha",), "gha")
    assert read_flags(BUILDX, gha) == ["--cache-from", "type=gha"]
    assert write_flags("gha") == ["--cache-to", "type=gha,mode=max"]


def test_what_cannot_use_the_cache_says_why() -> None:
    gha = CachePlan(("gha",), "gha")
    assert usable_with(BUILDX, gha) is None
    assert "gha, which needs buildx" in str(usable_with(BUILTIN, gha))
    assert "classic builder cannot use build.cache" in str(usable_with(None, gha))


@pytest.mark.parametrize(
    ("reference", "host"),
    [("127.0.0.1:5000/a/b:c", "127.0.0.1:5000"), ("ghcr.io/a/b:c", "ghcr.io"),
     ("localhost/a:c", "localhost"), ("acme/app:c", "docker.io"), ("app:c", "docker.io")],
)  # fmt: skip
def test_registry_host_follows_dockers_rule(reference: str, host: str) -> None:
    assert registry_host(reference) == host


def test_registry_default_is_the_first_targets_buildcache_tag_on_its_endpoint() -> None:
    plan = cache_plan(CacheConfig(default="registry"), [MIRROR], "app", CREDENTIALS, print)

    assert plan == CachePlan(
        ("127.0.0.1:5999/team/app:buildcache",),
        "127.0.0.1:5999/team/app:buildcache",
        (RegistryLogin("127.0.0.1:5999", "ci-bot", "s3cret-pass"),),
    )
    assert "s3cret-pass" not in repr(plan)


def test_a_pull_request_reads_and_never_writes() -> None:
    lines: list[str] = []
    environ = {**CREDENTIALS, "GITHUB_EVENT_NAME": "pull_request"}

    plan = cache_plan(CacheConfig(default="registry"), [MIRROR], "app", environ, lines.append)

    assert plan is not None and plan.destination is None
    assert plan.sources == ("127.0.0.1:5999/team/app:buildcache",)
    assert plan.logins == (), "a pull request gets no credential, for the cache neither"
    assert lines == ["cache: a pull request reads the cache anonymously and never writes it"]


def test_explicit_refs_get_the_credentials_of_the_target_on_their_host() -> None:
    cache = CacheConfig(("127.0.0.1:5999/cache/app:main", "other.io/x:y"), "127.0.0.1:5999/c:1")

    plan = cache_plan(cache, [MIRROR], "app", CREDENTIALS, print)

    assert plan is not None
    assert [login.host for login in plan.logins] == ["127.0.0.1:5999"]  # other.io: CLI's own
    assert cache_plan(CacheConfig(), [MIRROR], "app", CREDENTIALS, print) is None


def test_the_private_docker_config_holds_the_login_and_goes_away(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    original = {"auths": {"x.org": {"auth": "eDp5"}}, "credsStore": "desktop",
                "credHelpers": {"127.0.0.1:5999": "pass", "gcr.io": "gcloud"}}  # fmt: skip
    (user / "config.json").write_text(json.dumps(original))
    before = (user / "config.json").read_bytes()
    login = RegistryLogin("127.0.0.1:5999", "ci-bot", "s3cret-pass")

    environ = {"DOCKER_CONFIG": str(user)}
    # Ctrl-C in the build: removed all the same
    with pytest.raises(KeyboardInterrupt), docker_config_with((login,), environ) as directory:
        assert directory is not None
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "config.json").stat().st_mode) == 0o600
        written = json.loads((directory / "config.json").read_text())
        raise KeyboardInterrupt

    assert not directory.exists()
    assert (user / "config.json").read_bytes() == before
    assert written["auths"]["127.0.0.1:5999"] == {"auth": "Y2ktYm90OnMzY3JldC1wYXNz"}
    assert written["auths"]["x.org"] == {"auth": "eDp5"}
    assert written["credHelpers"] == {"gcr.io": "gcloud"} and "credsStore" not in written


def test_no_login_means_the_clis_own_config() -> None:
    with docker_config_with((), {}) as directory:
        assert directory is None


def test_each_platform_gets_its_own_cache_ref_and_gha_scope() -> None:
    login = RegistryLogin("r.io", "ci-bot", "pw")
    plan = CachePlan(("r.io/a:buildcache", "r.io/a:old"), "r.io/a:buildcache", (login,))
    arm = plan.for_platform("linux-arm64")
    assert arm.sources == ("r.io/a:buildcache-linux-arm64", "r.io/a:old-linux-arm64")
    assert arm.destination == "r.io/a:buildcache-linux-arm64"
    assert arm.logins == (login,)  # the same registry hosts
    assert read_flags(BUILTIN, arm)[:2] == ["--cache-from", "r.io/a:buildcache-linux-arm64"]
    gha = CachePlan(("gha",), "gha").for_platform("linux-amd64")
    assert read_flags(BUILDX, gha) == ["--cache-from", "type=gha,scope=linux-amd64"]
    assert write_flags("gha", gha.scope) == ["--cache-to", "type=gha,mode=max,scope=linux-amd64"]
    assert CachePlan(("r.io/a:c",), None).for_platform("linux-amd64").destination is None


def test_a_platform_ref_keeps_the_registry_port_and_a_pinned_digest() -> None:
    assert platform_ref("localhost:5000/team/app", "linux-arm64") == (
        "localhost:5000/team/app:latest-linux-arm64"
    )
    assert platform_ref("localhost:5000/team/app:cache", "linux-arm64") == (
        "localhost:5000/team/app:cache-linux-arm64"
    )
    pinned = "r.io/a@sha256:" + "0" * 64
    assert platform_ref(pinned, "linux-arm64") == pinned


def test_the_registry_default_is_one_buildcache_tag_per_platform() -> None:
    plan = cache_plan(CacheConfig(default="registry"), [MIRROR], "app", CREDENTIALS, lambda _: None)
    assert plan is not None
    arm = plan.for_platform("linux-arm64")
    assert arm.destination == "127.0.0.1:5999/team/app:buildcache-linux-arm64"
    assert arm.sources == (arm.destination,)
