"""pipeline.yaml's ``deploy:`` section: a full environment loads; each mistake is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.deploy.settings import PortMapping, default_environment
from pipeline.errors import ConfigError
from pipeline.project import load_config

BASE = """\
image: team/node-app
build: {context: app}
smoke: {port: 8080, path: /ready, expect_body: ok, timeout: 12}
registries:
  - {kind: generic, name: prod-registry, repository: registry.example.com/team/app}
"""

FULL = (
    BASE
    + """\
deploy:
  production:
    host: ssh://deploy@app.example.com
    container: web
    registry: prod-registry
    ports: ["127.0.0.1:80:8080", "9090"]
    port_env: PORT
    env_file: deploy/production.env
    env: {LOG_LEVEL: info}
    restart: on-failure:5
    memory: 256m
    cpus: 0.5
    stop_timeout: 20
    health: {path: /healthz, timeout: 40}
  staging:
    network: host
    ports: [3100]
    probe_port: 3101
"""
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def load(project: Path, text: str):  # type: ignore[no-untyped-def]
    path = project / "pipeline.yaml"
    path.write_text(text)
    return load_config(path)


def test_a_full_environment_loads(project: Path) -> None:
    config = load(project, FULL)
    prod = config.deploy["production"]
    assert prod.host == "ssh://deploy@app.example.com"
    assert prod.container == "web"
    assert prod.registry == "prod-registry"
    assert prod.ports == (PortMapping(80, 8080, "127.0.0.1"), PortMapping(9090, 9090))
    assert str(prod.port) == "127.0.0.1:80:8080"
    assert prod.env_file == project / "deploy" / "production.env"  # next to pipeline.yaml
    assert prod.env == {"LOG_LEVEL": "info"}
    assert prod.restart == "on-failure:5"
    assert prod.memory == 256 * 1024 * 1024
    assert prod.cpus == 0.5
    assert prod.stop_timeout == 20
    assert not prod.host_network


def test_health_defaults_to_smoke_rules(project: Path) -> None:
    config = load(project, FULL)
    prod, staging = config.deploy["production"].health, config.deploy["staging"].health
    assert (prod.path, prod.timeout, prod.expect_body) == ("/healthz", 40.0, "ok")
    assert (staging.path, staging.timeout, staging.expect_status) == ("/ready", 12.0, 200)


def test_host_network_environment_gets_port_env_and_probe_port(project: Path) -> None:
    staging = load(project, FULL).deploy["staging"]
    assert staging.host_network
    assert staging.port_env == "PORT"
    assert staging.probe_port == 3101
    assert staging.container == "node-app"  # the image name's last part
    assert staging.restart == "unless-stopped"


def test_without_a_deploy_section_defaults_serve_smoke_port(project: Path) -> None:
    config = load(project, BASE)
    assert config.deploy == {}
    env = default_environment(config.image, config.smoke)
    assert env.name == "default"
    assert env.ports == (PortMapping(8080, 8080),)
    assert env.network == "bridge" and env.port_env is None
    assert env.memory is None and env.cpus is None


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        ("deploy: [a]", "pipeline.yaml: deploy: expected a mapping of environment names"),
        ("deploy: {'bad name': {}}", "pipeline.yaml: deploy: 'bad name' is not a valid"),
        ("deploy: {prod: {hots: x}}", "pipeline.yaml: deploy.prod.hots: unknown key"),
        ("deploy: {prod: {host: server.example.com}}", "deploy.prod.host: 'server.example.com' "
         "is not a Docker host"),
        ("deploy: {prod: {container: 'web app'}}", "deploy.prod.container: 'web app' is not"),
        ("deploy: {prod: {registry: nowhere}}", "deploy.prod.registry: no push target named"),
        ("deploy: {prod: {ports: ['80:http']}}", "deploy.prod.ports[0]: '80:http' is not"),
        ("deploy: {prod: {ports: ['99999:80']}}", "deploy.prod.ports[0]: '99999:80': ports are"),
        ("deploy: {prod: {ports: []}}", "deploy.prod.ports: expected a list"),
        ("deploy: {prod: {memory: lots}}", "deploy.prod.memory: 'lots' is not a size"),
        ("deploy: {prod: {memory: 1m}}", "deploy.prod.memory: '1m' is below the engine's"),
        ("deploy: {prod: {memory: 1t}}", "deploy.prod.memory: '1t' is not a size"),
        ("deploy: {prod: {memory: infm}}", "deploy.prod.memory: 'infm' is not a size"),
        ("deploy: {prod: {memory: true}}", "deploy.prod.memory: True is not a size"),
        ("deploy: {prod: {memory: -1g}}", "deploy.prod.memory: '-1g' is below the engine's"),
        ("deploy: {prod: {cpus: 0}}", "deploy.prod.cpus: must be between 0.01 and 1024"),
        ("deploy: {prod: {restart: sometimes}}", "deploy.prod.restart: 'sometimes' is not a "
         "restart policy"),
        ("deploy: {prod: {port_env: 'my-port'}}", "deploy.prod.port_env: 'my-port' is not a"),
        ("deploy: {prod: {stop_timeout: -1}}", "deploy.prod.stop_timeout: must be between"),
        ("deploy: {prod: {health: {path: healthz}}}", "deploy.prod.health.path: 'healthz' must"),
        ("deploy: {prod: {health: {expect_body: '('}}}", "deploy.prod.health.expect_body: "
         "invalid regular expression"),
        ("deploy: {prod: {network: host, ports: [80]}}", "deploy.prod.probe_port: network: host "
         "needs a probe_port"),
        ("deploy: {prod: {network: host, ports: ['80:3000'], probe_port: 81}}",
         "deploy.prod.ports: with network: host the app listens"),
        ("deploy: {prod: {network: host, ports: [80], probe_port: 80}}",
         "deploy.prod.probe_port: network: host needs a probe_port"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_file_and_field(
    project: Path, deploy: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(project, BASE + deploy + "\n")
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("memory", "size"),
    [("256m", 256 * 2**20), ("512mb", 512 * 2**20), ("1.5g", 3 * 2**29), ("1GB", 2**30),
     (268435456, 2**28), ("7340032", 7 * 2**20)],
)  # fmt: skip
def test_memory_sizes_read_as_docker_py_reads_mem_limit(
    project: Path, memory: object, size: int
) -> None:
    config = load(project, BASE + f"deploy: {{prod: {{memory: {memory}}}}}\n")
    assert config.deploy["prod"].memory == size
