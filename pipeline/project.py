"""pipeline.yaml -> a typed, validated ``PipelineConfig``.

Why hand-written validation rather than a schema library: every error must be one line that
names the file and the field path (``pipeline.yaml: smoke.port: expected an integer, got 'x'``)
and what to do, and the core dependencies are fixed. Each section has one small parse
function; unknown keys are refused so a typo never silently falls back to a default.

Paths in the file are relative to the file's own directory, so ``invoke ci --config
other-app/pipeline.yaml`` works from anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.smoke.service import HttpCheck
from pipeline.errors import ConfigError
from pipeline.smoke.policy import PolicyConfig
from pipeline.smoke.structure_suite import StructureSuite

MAX_CONFIG_BYTES = 256 * 1024
DEFAULT_STOP_TIMEOUT = 10.0
MAX_ALIASES = 64  # a real pipeline.yaml reuses a few anchors; thousands is an alias bomb
DEFAULT_CONFIG = "pipeline.yaml"

# The repository part of a Docker reference (distribution/reference grammar), lower case.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)"
IMAGE_NAME_RE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SECRET_ARG_RE = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class BuildConfig:
    context: Path
    dockerfile: Path
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    base_arg: str = "BASE_IMAGE"


@dataclass(frozen=True)
class MetadataConfig:
    """docker/metadata-action's inputs: tag rules, flavor lines, extra labels."""

    tags: list[str] = field(default_factory=list)
    flavor: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    licenses: str | None = None
    url: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class LintConfig:
    hadolint: bool = True
    eslint: bool = True
    ruff: list[str] = field(default_factory=list)
    failure_threshold: str = "warning"
    workflows: bool = True  # zizmor + schema check of .github/workflows/*.yml when present


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


@dataclass(frozen=True)
class TargetConfig:
    """One push target as written in pipeline.yaml; the registry kind gives it meaning."""

    kind: str
    name: str
    repository: str | None = None
    endpoint: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source: str = DEFAULT_CONFIG  # the file it was read from, for error messages


@dataclass(frozen=True)
class PipelineConfig:
    path: Path
    image: str
    build: BuildConfig
    metadata: MetadataConfig
    lint: LintConfig
    smoke: SmokeConfig
    registries: list[TargetConfig]
    deploy: dict[str, DeployEnvironment] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent


LINT_LEVELS = ("error", "warning", "info", "style", "none")
REGISTRY_KINDS = ("local", "dockerhub", "ghcr", "ecr", "gcr", "acr", "quay", "generic")


class _Fields:
    """Reads one YAML mapping, recording the field path for error messages."""

    def __init__(self, source: str, path: str, data: Any, allowed: tuple[str, ...]) -> None:
        self.source = source
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(None, f"expected a mapping, got {_kind(data)}")
        unknown = [str(k) for k in data if k not in allowed]
        if unknown:
            raise self.error(
                unknown[0], "unknown key", hint=f"allowed keys here: {', '.join(allowed)}"
            )
        self.data = data

    def where(self, key: str | None) -> str:
        if key is None:
            return self.path or "(top level)"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, problem: str, hint: str | None = None) -> ConfigError:
        return ConfigError(self.source, self.where(key), problem, hint)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        text = str(value)
        if not text.strip():
            raise self.error(key, "must not be empty")
        return text

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number of seconds, got {_kind(value)}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):  # metadata-action style: one rule a line
            return [line.strip() for line in value.splitlines() if line.strip()]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_kind(item)}")
        return [str(item) for item in value]

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping of names to strings, got {_kind(value)}")
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise self.error(key, f"names must be non-empty strings, got {name!r}")
            if item is None or isinstance(item, (bool, list, dict)):
                raise self.error(f"{key}.{name}", f"expected a string, got {_kind(item)}")
            result[name] = str(item)
        return result

    def section(self, key: str, allowed: tuple[str, ...]) -> _Fields:
        return _Fields(self.source, self.where(key), self.data.get(key), allowed)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def load_config(path: str | Path = DEFAULT_CONFIG) -> PipelineConfig:
    """Read and validate a pipeline.yaml; every problem is a ``ConfigError`` (exit code 2)."""
    config_path = Path(path).absolute()
    source = str(path)
    if config_path.is_dir():
        config_path = config_path / DEFAULT_CONFIG
        source = str(Path(path) / DEFAULT_CONFIG)
    data = _read_yaml(config_path, source)
    return parse_config(data, config_path, source)


def _read_yaml(config_path: Path, source: str) -> Any:
    import yaml

    if not config_path.is_file():
        raise ConfigError(source, None, "file not found", hint="pass --config PATH/pipeline.yaml")
    raw = config_path.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, None, f"file is {len(raw)} bytes, over {MAX_CONFIG_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, None, f"not UTF-8 text (byte {exc.start})") from None
    try:
        aliases = sum(isinstance(token, yaml.AliasToken) for token in yaml.scan(text))
        if aliases > MAX_ALIASES:
            raise ConfigError(
                source, None, f"{aliases} YAML aliases, over {MAX_ALIASES} (alias bomb refused)"
            )
        data = yaml.safe_load(text)
        _refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), source)
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(source, line, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, None, f"invalid YAML: {exc}") from None
    except RecursionError:  # PyYAML parses recursively: [[[[...]]]] thousands deep
        raise ConfigError(source, None, "invalid YAML: nested too deeply") from None


def _refuse_duplicate_keys(root: Any, source: str) -> None:
    """Refuse a key given twice in one mapping: PyYAML silently keeps the last one, so a
    second ``smoke:`` further down would quietly replace the first. Shared (aliased) nodes are
    visited once."""
    import yaml

    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if (key.tag, key.value) in keys:
                        mark = key.start_mark
                        raise ConfigError(
                            source,
                            f"line {mark.line + 1}, column {mark.column + 1}",
                            f"duplicate key {key.value!r}",
                            hint="YAML would keep only the last one: remove or merge the other",
                        )
                    keys.add((key.tag, key.value))
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def parse_config(data: Any, config_path: Path, source: str) -> PipelineConfig:
    if data is None:
        raise ConfigError(source, None, "file is empty", hint="see the project's pipeline.yaml")
    top = _Fields(
        source,
        "",
        data,
        ("image", "build", "metadata", "lint", "smoke", "registries", "deploy"),
    )
    image = _image_name(top)
    build = _build(top.section("build", ("context", "dockerfile", "args", "target", "base_arg")))
    build = _resolve_build_paths(build, config_path.parent, top)
    return PipelineConfig(
        path=config_path,
        image=image,
        build=build,
        metadata=_metadata(top.section("metadata", tuple(MetadataConfig.__dataclass_fields__))),
        lint=_lint(top.section("lint", tuple(LintConfig.__dataclass_fields__))),
        smoke=(
            smoke := _smoke(
                top.section("smoke", tuple(SmokeConfig.__dataclass_fields__)), config_path.parent
            )
        ),
        registries=(registries := _registries(top, image)),
        deploy=_deploy(top, config_path.parent, image, smoke, registries),
    )


def _image_name(top: _Fields) -> str:
    image = top.text("image", required=True)
    assert image is not None
    if ":" in image.rsplit("/", 1)[-1] or "@" in image:
        raise top.error("image", f"{image!r} must be a name without a tag or digest")
    if not IMAGE_NAME_RE.match(image):
        raise top.error(
            "image",
            f"{image!r} is not a valid image name",
            hint="use lower-case letters, digits and . _ - separated by /",
        )
    return image


def _build(section: _Fields) -> BuildConfig:
    args = section.str_map("args")
    for name in args:
        if _SECRET_ARG_RE.search(name):
            raise section.error(
                f"args.{name}",
                "looks like a secret; build args are stored in the image history",
                hint="pass secrets as build secrets (RUN --mount=type=secret), never as args",
            )
    base_arg = section.text("base_arg", "BASE_IMAGE")
    assert base_arg is not None
    return BuildConfig(
        context=Path(section.text("context", ".") or "."),
        dockerfile=Path(section.text("dockerfile", "Dockerfile") or "Dockerfile"),
        args=args,
        target=section.text("target"),
        base_arg=base_arg,
    )


def _resolve_build_paths(build: BuildConfig, root: Path, top: _Fields) -> BuildConfig:
    context = (root / build.context).resolve()
    if not context.is_dir():
        raise top.error("build.context", f"directory {build.context} not found (next to the file)")
    dockerfile = (context / build.dockerfile).resolve()
    if not dockerfile.is_relative_to(context):
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} is outside the build context {build.context}",
            hint="put the Dockerfile inside the context directory",
        )
    if not dockerfile.is_file():
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} not found in {build.context}",
            hint="create it or set build.dockerfile",
        )
    try:
        dockerfile.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{build.dockerfile} is not UTF-8 text (byte {exc.start})"
        raise top.error("build.dockerfile", problem) from None
    return BuildConfig(context, dockerfile, build.args, build.target, build.base_arg)


def _metadata(section: _Fields) -> MetadataConfig:
    from pipeline.tags.rules import parse_flavor, parse_rules

    tags, flavor = section.str_list("tags"), section.str_list("flavor")
    parse_rules(tags, f"{section.source}: {section.where('tags')}")  # a typo fails at load
    parse_flavor(flavor, f"{section.source}: {section.where('flavor')}")
    return MetadataConfig(
        tags=tags,
        flavor=flavor,
        labels=section.str_map("labels"),
        title=section.text("title"),
        description=section.text("description"),
        licenses=section.text("licenses"),
        url=section.text("url"),
        source=section.text("source"),
    )


def _lint(section: _Fields) -> LintConfig:
    threshold = section.text("failure_threshold", "warning")
    if threshold not in LINT_LEVELS:
        raise section.error(
            "failure_threshold", f"{threshold!r} is not one of {', '.join(LINT_LEVELS)}"
        )
    assert threshold is not None
    return LintConfig(
        hadolint=section.boolean("hadolint", True),
        eslint=section.boolean("eslint", True),
        workflows=section.boolean("workflows", True),
        ruff=section.str_list("ruff"),
        failure_threshold=threshold,
    )


def _smoke(section: _Fields, root: Path) -> SmokeConfig:
    from pipeline.smoke.service import parse_checks
    from pipeline.smoke.policy import parse_policy
    from pipeline.smoke.structure_suite import parse_structure

    path = section.text("path", "/healthz")
    assert path is not None
    if not path.startswith("/"):
        raise section.error("path", f"{path!r} must start with /")
    expect_body = section.text("expect_body")
    if expect_body is not None:
        try:
            re.compile(expect_body)
        except re.error as exc:
            raise section.error("expect_body", f"invalid regular expression: {exc}") from None
    return SmokeConfig(
        port=section.integer("port", 3000, low=1, high=65535),
        path=path,
        expect_status=section.integer("expect_status", 200, low=100, high=599),
        expect_body=expect_body,
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


def _registries(top: _Fields, image: str) -> list[TargetConfig]:
    raw = top.data.get("registries")
    if raw is None:
        return [TargetConfig(kind="local", name="local")]
    if not isinstance(raw, list) or not raw:
        raise top.error("registries", "expected a non-empty list of targets")
    targets: list[TargetConfig] = []
    for i, item in enumerate(raw):
        entry = _Fields(
            top.source,
            f"registries[{i}]",
            item,
            ("kind", "name", "repository", "endpoint", "options"),
        )
        kind = entry.text("kind", required=True)
        if kind not in REGISTRY_KINDS:
            raise entry.error(
                "kind",
                f"unknown registry kind {kind!r}",
                hint=f"one of {', '.join(REGISTRY_KINDS)}",
            )
        assert kind is not None
        name = entry.text("name", kind) or kind
        if any(t.name == name for t in targets):
            raise entry.error(
                "name",
                f"duplicate target name {name!r}",
                hint="give each target of the same kind its own name:",
            )
        options = item.get("options") or {}
        if not isinstance(options, Mapping):
            raise entry.error("options", f"expected a mapping, got {_kind(options)}")
        targets.append(
            TargetConfig(
                kind=kind,
                name=name,
                repository=entry.text("repository"),
                endpoint=entry.text("endpoint"),
                options=dict(options),
                source=top.source,
            )
        )
    return targets


# --- deploy: where and how the pushed image runs on a server ------------------------------------

DEPLOY_KEYS = (
    "host", "container", "registry", "network", "ports", "port_env", "probe_port", "env_file",
    "env", "restart", "memory", "cpus", "stop_timeout", "health",
)  # fmt: skip
_ENV_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CONTAINER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,49}$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESTART_RE = re.compile(r"^(no|always|unless-stopped|on-failure(:[1-9][0-9]{0,2})?)$")
_MEMORY_RE = re.compile(r"^([0-9]+)([bkmg]?)$", re.IGNORECASE)
_PORT_RE = re.compile(
    r"^(?:(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}):)?(?:(?P<host>[0-9]+):)?(?P<container>[0-9]+)$"
)
HOST_SCHEMES = ("ssh://", "unix://", "tcp://")
MIN_MEMORY = 6 * 1024 * 1024  # the engine refuses less


@dataclass(frozen=True)
class PortMapping:
    """One ``[IP:]HOST:CONTAINER`` rule, written as ``docker run -p`` writes it.

    ``host_ip`` empty means every interface of the server, as with ``-p 8080:3000``.
    """

    host_port: int
    container_port: int
    host_ip: str = ""

    def __str__(self) -> str:
        ip = f"{self.host_ip}:" if self.host_ip else ""
        return f"{ip}{self.host_port}:{self.container_port}"


@dataclass(frozen=True)
class HealthConfig:
    """The HTTP check a new version must pass, before and after the switch (smoke's rules)."""

    path: str = "/healthz"
    expect_status: int = 200
    expect_body: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class DeployEnvironment:
    """One named environment under ``deploy:`` (``invoke deploy --env NAME``).

    ``network: host`` runs the app in the server's network namespace: nothing is published,
    the app is told its port through ``port_env`` (``PORT``) and the new version is first
    checked on ``probe_port``. Any other network publishes ``ports`` and checks the new version
    on a random 127.0.0.1 port the engine picks.
    """

    name: str
    container: str
    health: HealthConfig
    ports: tuple[PortMapping, ...]
    host: str | None = None
    registry: str | None = None
    network: str = "bridge"
    port_env: str | None = None
    probe_port: int | None = None
    env_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    restart: str = "unless-stopped"
    memory: int | None = None
    cpus: float | None = None
    stop_timeout: int = 10

    @property
    def port(self) -> PortMapping:
        """The published port the health check is aimed at (the first one)."""
        return self.ports[0]

    @property
    def host_network(self) -> bool:
        return self.network == "host"


def _deploy(
    top: _Fields, root: Path, image: str, smoke: SmokeConfig, registries: list[TargetConfig]
) -> dict[str, DeployEnvironment]:
    raw = top.data.get("deploy")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        raise top.error("deploy", "expected a mapping of environment names to settings")
    environments: dict[str, DeployEnvironment] = {}
    for name, settings in raw.items():
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            raise top.error("deploy", f"{name!r} is not a valid environment name")
        section = _Fields(top.source, f"deploy.{name}", settings, DEPLOY_KEYS)
        environments[name] = deploy_environment(section, name, root, image, smoke, registries)
    return environments


def default_deploy_environment(config: PipelineConfig) -> DeployEnvironment:
    """The environment ``invoke deploy`` uses when pipeline.yaml has no ``deploy:`` section."""
    section = _Fields(str(config.path.name), "deploy.default", {}, DEPLOY_KEYS)
    return deploy_environment(
        section, "default", config.root, config.image, config.smoke, config.registries
    )


def deploy_environment(
    section: _Fields,
    name: str,
    root: Path,
    image: str,
    smoke: SmokeConfig,
    registries: list[TargetConfig],
) -> DeployEnvironment:
    host = section.text("host")
    if host is not None and not host.startswith(HOST_SCHEMES):
        raise section.error(
            "host",
            f"{host!r} is not a Docker host",
            hint="ssh://user@host, tcp://host:2376, unix://",
        )
    container = section.text("container", image.rsplit("/", 1)[-1]) or ""
    if not _CONTAINER_NAME_RE.match(container):
        raise section.error(
            "container", f"{container!r} is not a valid container name (letters, digits, _ . -)"
        )
    registry = section.text("registry")
    if registry is not None and registry not in {t.name for t in registries}:
        raise section.error(
            "registry",
            f"no push target named {registry!r}",
            hint=f"one of: {', '.join(t.name for t in registries)}",
        )
    network = section.text("network", "bridge") or "bridge"
    ports = _deploy_ports(section, smoke.port)
    port_env = section.text("port_env", "PORT" if network == "host" else None)
    if port_env is not None and not _VARIABLE_RE.match(port_env):
        raise section.error("port_env", f"{port_env!r} is not a variable name")
    probe_port = None
    if "probe_port" in section.data:
        probe_port = section.integer("probe_port", 0, low=1, high=65535)
    if network == "host":
        if len(ports) != 1 or ports[0].host_ip or ports[0].host_port != ports[0].container_port:
            raise section.error(
                "ports",
                "with network: host the app listens on the server's port itself",
                hint="give exactly one port, e.g. ports: ['8080']",
            )
        if probe_port is None or probe_port == ports[0].host_port:
            raise section.error(
                "probe_port",
                "network: host needs a probe_port, free on the server, other than the live port",
                hint="the new version is checked there before it replaces the live one",
            )
    env_file = section.text("env_file")
    return DeployEnvironment(
        name=name,
        container=container,
        health=_health(section.section("health", tuple(HealthConfig.__dataclass_fields__)), smoke),
        ports=ports,
        host=host,
        registry=registry,
        network=network,
        port_env=port_env,
        probe_port=probe_port,
        env_file=(root / env_file) if env_file else None,
        env=section.str_map("env"),
        restart=_restart(section),
        memory=_memory(section),
        cpus=section.number("cpus", 1.0, low=0.01, high=1024) if "cpus" in section.data else None,
        stop_timeout=section.integer("stop_timeout", 10, low=0, high=3600),
    )


def _deploy_ports(section: _Fields, default_port: int) -> tuple[PortMapping, ...]:
    raw = section.data.get("ports")
    if raw is None:
        return (PortMapping(default_port, default_port),)
    if not isinstance(raw, list) or not raw:
        raise section.error("ports", "expected a list such as ['8080:3000']")
    ports = []
    for i, item in enumerate(raw):
        match = None
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            match = _PORT_RE.match(str(item).strip())
        if match is None:
            raise section.error(
                f"ports[{i}]", f"{item!r} is not [IP:]HOST:CONTAINER", hint="e.g. '8080:3000'"
            )
        container = int(match["container"])
        host = int(match["host"]) if match["host"] else container
        if not (1 <= host <= 65535 and 1 <= container <= 65535):
            raise section.error(f"ports[{i}]", f"{item!r}: ports are 1 to 65535")
        ports.append(PortMapping(host, container, match["ip"] or ""))
    return tuple(ports)


def _health(section: _Fields, smoke: SmokeConfig) -> HealthConfig:
    """Health rules default to smoke's: the new version must pass what the pushed one passed."""
    path = section.text("path", smoke.path) or smoke.path
    if not path.startswith("/"):
        raise section.error("path", f"{path!r} must start with /")
    expect_body = section.text("expect_body", smoke.expect_body)
    if expect_body is not None:
        try:
            re.compile(expect_body)
        except re.error as exc:
            raise section.error("expect_body", f"invalid regular expression: {exc}") from None
    return HealthConfig(
        path=path,
        expect_status=section.integer("expect_status", smoke.expect_status, low=100, high=599),
        expect_body=expect_body,
        timeout=section.number("timeout", smoke.timeout, low=1, high=3600),
    )


def _restart(section: _Fields) -> str:
    restart = section.text("restart", "unless-stopped") or "unless-stopped"
    if not _RESTART_RE.match(restart):
        raise section.error(
            "restart",
            f"{restart!r} is not a restart policy",
            hint="no, always, unless-stopped, on-failure or on-failure:N",
        )
    return restart


def _memory(section: _Fields) -> int | None:
    """``256m`` / ``1g`` / bytes, as ``docker run --memory`` takes it, in bytes."""
    raw = section.data.get("memory")
    if raw is None:
        return None
    match = _MEMORY_RE.match(str(raw).strip()) if not isinstance(raw, bool) else None
    if match is None:
        raise section.error("memory", f"{raw!r} is not a size", hint="e.g. 256m or 1g")
    scale = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match[2].lower()]
    size = int(match[1]) * scale
    if size < MIN_MEMORY:
        raise section.error("memory", f"{raw!r} is below the engine's minimum of 6m")
    return size
