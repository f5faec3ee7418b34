"""Deploy decisions that need no engine: which environment, host and digest, the env file, the
container arguments, the checks, and the one-line errors of an unreachable server.

The switch itself (containers renamed, stopped, restored) is only tested against a real second
engine, in tests/integration/test_deploy.py: mocking the engine would test the mock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.deploy.host import Server, connect, display_host
from pipeline.deploy.release import Release, deploy_host, find_release
from pipeline.deploy.site import http_checks
from pipeline.deploy.spec import container_kwargs, deploy_labels, read_env_file, restart_policy
from pipeline.deploy.stage import render_deploy
from pipeline.deploy.switch import DeployResult
from pipeline.errors import ConfigError, DeployError
from pipeline.project import PipelineConfig, load_config
from pipeline.push.target import PushResult
from pipeline.report import RunReport, write_report
from pipeline.smoke.http_checks import HttpCheck

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
CONFIG = """\
image: team/node-app
build: {context: app}
registries:
  - {kind: generic, name: main, repository: registry.example.com/team/app}
  - {kind: generic, name: mirror, repository: mirror.example.com/team/app,
     endpoint: 127.0.0.1:5000}
deploy:
  prod:
    host: ssh://deploy@app.example.com
    ports: ["127.0.0.1:80:3000", "8443:3000"]
    env_file: prod.env
    env: {LOG_LEVEL: info}
    memory: 128m
    cpus: 1.5
  edge:
    network: host
    ports: [4000]
    probe_port: 4001
    registry: mirror
"""
ENVIRON = {"REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "s3cret"}


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pipeline.yaml").write_text(CONFIG)
    return load_config(tmp_path / "pipeline.yaml")


def report(path: Path, *pushes: PushResult, config: str = "") -> Path:
    run = RunReport(
        run_id="20260101000000-abc123",
        config=config or str(path.parent / "pipeline.yaml"),
        image="team/node-app",
        started="2026-01-01T00:00:00+00:00",
        labels={"org.opencontainers.image.revision": "f" * 40},
        pushes=list(pushes),
    )
    write_report(run, path)
    return path / "last.json"


# --- environment and host ---------------------------------------------------------------------


def test_environment_is_named_or_the_only_one(config: PipelineConfig, tmp_path: Path) -> None:
    assert config.deployment("edge").environment.name == "edge"
    with pytest.raises(ConfigError, match=r"deploy: 2 environments \(prod, edge\).*--env NAME"):
        config.deployment(None)
    with pytest.raises(ConfigError, match=r"deploy.qa: no such environment.*prod, edge"):
        config.deployment("qa")


def test_without_deploy_section_the_defaults_are_used(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pipeline.yaml").write_text("image: app\nbuild: {context: app}\n")
    config = load_config(tmp_path / "pipeline.yaml")
    assert config.deployment(None).environment.name == "default"
    assert config.deployment("default").environment.container == "app"


def test_host_flag_wins_and_one_is_required(config: PipelineConfig) -> None:
    prod, edge = config.deploy["prod"], config.deploy["edge"]
    assert deploy_host(prod, None) == "ssh://deploy@app.example.com"
    assert deploy_host(prod, "unix:///run/other.sock") == "unix:///run/other.sock"
    with pytest.raises(DeployError, match="no server to deploy edge to.*--host"):
        deploy_host(edge, None)


# --- what to deploy ---------------------------------------------------------------------------


def test_release_comes_from_the_last_report(config: PipelineConfig, tmp_path: Path) -> None:
    last = report(
        tmp_path / "reports",
        PushResult("main", "registry.example.com/team/app", digest=None, error="denied"),
        PushResult("mirror", "mirror.example.com/team/app", digest=DIGEST),
    )
    release, credentials = find_release(config.deployment("prod"), None, last, ENVIRON)
    assert release.digest == DIGEST
    assert release.target == "mirror"  # the failed push is skipped
    assert release.repository == "mirror.example.com/team/app"
    assert release.reference == f"127.0.0.1:5000/team/app@{DIGEST}"  # pulled from the endpoint
    assert release.run_id == "20260101000000-abc123"
    assert release.revision == "f" * 40
    assert credentials is not None and credentials.auth_config() == {
        "username": "ci",
        "password": "s3cret",
    }


def test_environment_registry_filters_the_report(config: PipelineConfig, tmp_path: Path) -> None:
    last = report(tmp_path / "reports", PushResult("main", "registry.example.com/team/app",
                                                   digest=DIGEST))  # fmt: skip
    with pytest.raises(DeployError, match=r"the last run \(20260101000000-abc123\) pushed "
                       r"nothing to mirror"):  # fmt: skip
        find_release(config.deployment("edge"), None, last, ENVIRON)


def test_digest_flag_uses_the_environment_target(config: PipelineConfig, tmp_path: Path) -> None:
    missing = tmp_path / "reports" / "last.json"
    release, _ = find_release(config.deployment("edge"), OTHER, missing, ENVIRON)
    assert (release.digest, release.target, release.run_id) == (OTHER, "mirror", "")
    release, _ = find_release(config.deployment("prod"), OTHER, missing, ENVIRON)
    assert release.target == "main"  # the first configured target


def test_digest_flag_found_in_the_report_keeps_its_run(
    config: PipelineConfig, tmp_path: Path
) -> None:
    last = report(tmp_path / "r", PushResult("mirror", "mirror.example.com/team/app",
                                             digest=OTHER))  # fmt: skip
    release, _ = find_release(config.deployment("prod"), OTHER, last, ENVIRON)
    assert (release.target, release.run_id) == ("mirror", "20260101000000-abc123")


@pytest.mark.parametrize("digest", ["latest", "sha256:abc", "sha512:" + "a" * 64, DIGEST.upper()])
def test_malformed_digest_is_refused(config: PipelineConfig, tmp_path: Path, digest: str) -> None:
    with pytest.raises(DeployError, match="is not sha256: and 64 hex digits"):
        find_release(config.deployment("prod"), digest, tmp_path / "none.json", ENVIRON)


def test_a_report_of_another_app_is_not_deployed(config: PipelineConfig, tmp_path: Path) -> None:
    push = PushResult("main", "registry.example.com/team/app", digest=DIGEST)
    last = report(tmp_path / "reports", push, config="/elsewhere/other-app/pipeline.yaml")
    with pytest.raises(DeployError, match="the last run report is for /elsewhere/other-app/"):
        find_release(config.deployment("prod"), None, last, ENVIRON)
    release, _ = find_release(config.deployment("prod"), DIGEST, last, ENVIRON)
    assert release.run_id == ""  # that run says nothing about this app


def test_no_report_and_no_digest_is_one_clear_line(config: PipelineConfig, tmp_path: Path) -> None:
    with pytest.raises(DeployError) as caught:
        find_release(config.deployment("prod"), None, tmp_path / "last.json", ENVIRON)
    text = str(caught.value)
    assert text.startswith("no digest to deploy: no run report at ")
    assert "invoke push" in text and "--digest" in text and "\n" not in text


# --- env file ---------------------------------------------------------------------------------


def test_env_file_follows_docker_rules(config: PipelineConfig, tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text(
        "# comment\n\nDATABASE_URL=postgres://db/app?x=1\n  SPACED=yes\nFROM_CI\nUNSET_HERE\n"
        'QUOTED="kept as is"\n'
    )
    values = read_env_file(config.deploy["prod"], "pipeline.yaml", {"FROM_CI": "token"})
    assert values == {
        "DATABASE_URL": "postgres://db/app?x=1",
        "SPACED": "yes",
        "FROM_CI": "token",
        "QUOTED": '"kept as is"',
    }


def test_env_file_errors_name_the_field(config: PipelineConfig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pipeline.yaml: deploy.prod.env_file: cannot read"):
        read_env_file(config.deploy["prod"], "pipeline.yaml", {})
    (tmp_path / "prod.env").write_text("OK=1\n=nokey\n")
    with pytest.raises(ConfigError, match=r"deploy.prod.env_file: prod.env line 2: expected"):
        read_env_file(config.deploy["prod"], "pipeline.yaml", {})


# --- the containers ---------------------------------------------------------------------------

RELEASE = Release("mirror.example.com/team/app", "127.0.0.1:5000/team/app", DIGEST, "mirror")


def test_live_container_on_a_bridge_publishes_every_port(config: PipelineConfig) -> None:
    kwargs = container_kwargs(
        config.deploy["prod"], RELEASE, role="live", environment={"A": "1"}, labels={"x": "y"}
    )
    assert kwargs["image"] == f"127.0.0.1:5000/team/app@{DIGEST}"
    assert kwargs["name"] == "node-app"
    assert kwargs["ports"] == {"3000/tcp": [("127.0.0.1", 80), 8443]}
    assert kwargs["network_mode"] == "bridge"
    assert kwargs["restart_policy"] == {"Name": "unless-stopped"}
    assert kwargs["mem_limit"] == 128 * 1024 * 1024
    assert kwargs["nano_cpus"] == 1_500_000_000
    assert kwargs["environment"] == {"A": "1"}
    assert kwargs["labels"] == {"x": "y", "io.hoist.role": "live"}


def test_candidate_gets_a_random_loopback_port_and_no_restart(config: PipelineConfig) -> None:
    kwargs = container_kwargs(
        config.deploy["prod"], RELEASE, role="candidate", environment={}, labels={}
    )
    assert kwargs["name"] == "node-app-candidate"
    assert kwargs["ports"] == {"3000/tcp": ("127.0.0.1", None)}
    assert "restart_policy" not in kwargs
    assert kwargs["labels"] == {"io.hoist.role": "candidate"}
    everywhere = container_kwargs(
        config.deploy["prod"], RELEASE, role="candidate", environment={}, labels={}, probe_bind=""
    )
    assert everywhere["ports"] == {"3000/tcp": None}


def test_host_network_tells_the_app_its_port(config: PipelineConfig) -> None:
    edge = config.deploy["edge"]
    live = container_kwargs(edge, RELEASE, role="live", environment={"PORT": "1"}, labels={})
    probe = container_kwargs(edge, RELEASE, role="candidate", environment={}, labels={})
    assert live["network_mode"] == probe["network_mode"] == "host"
    assert "ports" not in live and "ports" not in probe
    assert live["environment"] == {"PORT": "4000"}
    assert probe["environment"] == {"PORT": "4001"}


@pytest.mark.parametrize(
    ("restart", "policy"),
    [
        ("no", {"Name": "no"}),
        ("always", {"Name": "always"}),
        ("on-failure:3", {"Name": "on-failure", "MaximumRetryCount": 3}),
    ],
)
def test_restart_policy(restart: str, policy: dict[str, object]) -> None:
    assert restart_policy(restart) == policy


def test_labels_record_what_runs(config: PipelineConfig) -> None:
    release = Release("r/app", "r/app", DIGEST, "main", run_id="run-1", revision="abc")
    labels = deploy_labels(
        config.deploy["prod"], release, "dep-1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    )
    assert labels == {
        "io.hoist.env": "prod",
        "io.hoist.digest": DIGEST,
        "io.hoist.repository": "r/app",
        "io.hoist.revision": "abc",
        "io.hoist.deployed-at": "2026-01-02T03:04:05+00:00",
        "io.hoist.run": "run-1",
        "io.hoist.deploy": "dep-1",
    }


def test_only_read_only_smoke_checks_run_on_a_server(config: PipelineConfig) -> None:
    smoke_checks = [
        HttpCheck(name="home", path="/"),
        HttpCheck(name="head", method="HEAD", path="/"),
        HttpCheck(name="create", method="POST", path="/items", body="{}"),
        HttpCheck(name="wipe", method="DELETE", path="/items"),
    ]
    checks = http_checks(config.deploy["prod"], smoke_checks)
    assert [c.name for c in checks] == ["GET /healthz", "home", "head"]
    assert checks[0].expect_status == 200


def test_summary_names_both_figures() -> None:
    result = DeployResult("d", "prod", "ssh://h", "web", "r/app", DIGEST, "abc",
                          to_healthy_seconds=4.25)  # fmt: skip
    assert "outage during switch: none (first deploy)" in render_deploy(result)
    result.outage_seconds, result.previous_digest = 0.734, OTHER
    text = render_deploy(result)
    assert "time to healthy new version: 4.2 s; outage during switch: 0.73 s" in text
    assert "previous sha256:cdcdcdcdcdcd…" in text


# --- the server connection --------------------------------------------------------------------


def test_passwords_in_host_urls_are_not_printed() -> None:
    assert display_host("ssh://deploy:hunter2@app:22") == "ssh://deploy:***@app:22"
    assert display_host("ssh://deploy@app") == "ssh://deploy@app"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("server.example.com", "is not a Docker host"),
        ("unix:///tmp/hoist-unit-no-such.sock", "cannot reach the Docker Engine at "
         "unix:///tmp/hoist-unit-no-such.sock: no engine socket there (nothing changed"),
    ],
)  # fmt: skip
def test_unreachable_server_is_one_line(host: str, message: str) -> None:
    with pytest.raises(DeployError) as caught:
        connect(host, {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_checks_over_tcp_reach_the_server_by_name() -> None:
    server = Server("tcp://10.0.0.5:2376", client=None, route="tcp", tcp_host="10.0.0.5")  # type: ignore[arg-type]
    assert server.address("", 8080) == "10.0.0.5:8080"
    assert server.address("192.168.1.9", 8080) == "192.168.1.9:8080"
    assert server.probe_bind("") == ""  # the new version is exposed like the live one
    with pytest.raises(DeployError, match="bound to the server's 127.0.0.1.*use ssh|ssh://"):
        server.check_reachable("127.0.0.1")
    local = Server("unix:///var/run/docker.sock", client=None, route="local")  # type: ignore[arg-type]
    assert local.address("", 8080) == "127.0.0.1:8080"
    assert local.probe_bind("") == "127.0.0.1"


def test_a_loopback_registry_is_refused_for_a_remote_server() -> None:
    remote = Server("ssh://deploy@app.example.com", client=None, route="ssh")  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="cannot pull from 127.0.0.1:5000/team/app: that"):
        remote.check_can_pull_from("127.0.0.1:5000/team/app")
    remote.check_can_pull_from("ghcr.io/team/app")
    here = Server("ssh://root@127.0.0.1:2222", client=None, route="ssh")  # type: ignore[arg-type]
    here.check_can_pull_from("localhost:5000/team/app")  # the server is this machine
