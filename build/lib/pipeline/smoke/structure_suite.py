"""container-structure-test's schema (2.0.0), read from pipeline.yaml or an existing test file.

Teams that already keep a ``structure-test.yaml`` for Google's container-structure-test can point
``smoke.structure`` at it and it runs unchanged; others write the same schema inline. The file
is validated when pipeline.yaml is loaded, so a typo (``expectedOuput``) is a one-line config
error naming the file and field, not a test that silently checks nothing.

What is read here are plain frozen values; ``pipeline.smoke.structure_run`` runs them against an
image. Semantics follow container-structure-test: ``shouldExist`` defaults to true, ``exitCode``
to 0, regexes are searched (not anchored), ``uid``/``gid`` are only checked when given, and
``licenseTests`` are accepted but not run (they check Google's licence allow-list).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.fields import Fields, kind_of
from pipeline.config.source import read_yaml

SCHEMA_VERSION = "2.0.0"
EXECUTABLE_BY = ("owner", "group", "other", "any")
TOP_KEYS = (
    "schemaVersion",
    "globalEnvVars",
    "commandTests",
    "fileExistenceTests",
    "fileContentTests",
    "metadataTest",
    "licenseTests",
    "containerRunOptions",
)


@dataclass(frozen=True)
class EnvVar:
    key: str
    value: str = ""
    is_regex: bool = False


@dataclass(frozen=True)
class CommandTest:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env_vars: tuple[EnvVar, ...] = ()
    setup: tuple[tuple[str, ...], ...] = ()
    teardown: tuple[tuple[str, ...], ...] = ()
    expected_output: tuple[str, ...] = ()
    excluded_output: tuple[str, ...] = ()
    expected_error: tuple[str, ...] = ()
    excluded_error: tuple[str, ...] = ()
    exit_code: int = 0


@dataclass(frozen=True)
class FileExistenceTest:
    name: str
    path: str
    should_exist: bool = True
    permissions: str | None = None
    uid: int | None = None
    gid: int | None = None
    is_executable_by: str | None = None


@dataclass(frozen=True)
class FileContentTest:
    name: str
    path: str
    expected_contents: tuple[str, ...] = ()
    excluded_contents: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetadataTest:
    env_vars: tuple[EnvVar, ...] = ()
    unbound_env_vars: tuple[str, ...] = ()
    labels: tuple[EnvVar, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    unexposed_ports: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    workdir: str | None = None
    user: str | None = None
    volumes: tuple[str, ...] = ()
    unmounted_volumes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOptions:
    """``containerRunOptions``: how command-test containers are started."""

    user: str | None = None
    privileged: bool = False
    tty: bool = False
    env_vars: tuple[str, ...] = ()  # names read from hoist's own environment
    env_file: Path | None = None
    capabilities: tuple[str, ...] = ()
    bind_mounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class StructureSuite:
    source: str  # the file the tests came from (pipeline.yaml or the referenced file)
    global_env: tuple[EnvVar, ...] = ()
    command_tests: tuple[CommandTest, ...] = ()
    file_existence_tests: tuple[FileExistenceTest, ...] = ()
    file_content_tests: tuple[FileContentTest, ...] = ()
    metadata: MetadataTest | None = None
    license_tests: int = 0
    run_options: RunOptions = field(default_factory=RunOptions)

    @property
    def count(self) -> int:
        return (
            len(self.command_tests) + len(self.file_existence_tests) + len(self.file_content_tests)
        )


# --- parsing ---------------------------------------------------------------------------------


def parse_structure(smoke: Fields, root: Path) -> StructureSuite | None:
    """``smoke.structure``: an inline mapping, or a path (relative to pipeline.yaml) to a file."""

    value = smoke.data.get("structure")
    if value is None:
        return None
    if isinstance(value, str):
        path = (root / value).resolve()
        if not path.is_file():
            raise smoke.error(
                "structure",
                f"file {value} not found (next to {Path(smoke.source).name})",
                hint="give a container-structure-test YAML file or an inline mapping",
            )
        source = str(Path(smoke.source).parent / value)  # as the user would find it
        data = read_yaml(path, source)
        suite = Fields(source, "", data, TOP_KEYS)
        if suite.data.get("schemaVersion") is None:
            raise suite.error("schemaVersion", "is required (container-structure-test: 2.0.0)")
        return _suite(suite, path.parent)
    if not isinstance(value, Mapping):
        raise smoke.error(
            "structure",
            "expected a mapping of tests or the path of a container-structure-test file",
        )
    return _suite(smoke.section("structure", TOP_KEYS), root)


def _suite(top: Fields, base: Path) -> StructureSuite:
    version = _scalar(top, "schemaVersion", top.data.get("schemaVersion", SCHEMA_VERSION))
    if version != SCHEMA_VERSION:
        raise top.error(
            "schemaVersion",
            f"{version!r} is not supported; hoist reads schema {SCHEMA_VERSION}",
            hint="schema 1.0.0 wrote commands as lists: move the program to `command`, the rest "
            "to `args`, and set schemaVersion: '2.0.0'",
        )
    suite = StructureSuite(
        source=top.source,
        global_env=_env_vars(top, "globalEnvVars", need_value=True),
        command_tests=tuple(_command(item) for item in _items(top, "commandTests", _COMMAND)),
        file_existence_tests=tuple(
            _existence(item) for item in _items(top, "fileExistenceTests", _EXISTENCE)
        ),
        file_content_tests=tuple(
            _content(item) for item in _items(top, "fileContentTests", _CONTENT)
        ),
        metadata=_metadata(top.section("metadataTest", _METADATA))
        if top.data.get("metadataTest") is not None
        else None,
        license_tests=len(_items(top, "licenseTests", ("debian", "files"))),
        run_options=_run_options(top.section("containerRunOptions", _RUN_OPTIONS), base),
    )
    return suite


_COMMAND = (
    "name", "setup", "teardown", "envVars", "exitCode", "command", "args", "expectedOutput",
    "excludedOutput", "expectedError", "excludedError",
)  # fmt: skip
_EXISTENCE = ("name", "path", "shouldExist", "permissions", "uid", "gid", "isExecutableBy")
_CONTENT = ("name", "path", "expectedContents", "excludedContents")
_METADATA = (
    "envVars", "unboundEnvVars", "exposedPorts", "unexposedPorts", "entrypoint", "cmd", "workdir",
    "volumes", "unmountedVolumes", "labels", "user",
)  # fmt: skip
_RUN_OPTIONS = (
    "user", "privileged", "allocateTty", "envVars", "envFile", "capabilities", "bindMounts",
)  # fmt: skip
_PERMISSIONS_RE = re.compile(r"^[-dalTLDpSugct?]+[-r][-w][-xsStT][-r][-w][-xsStT][-r][-w][-xsStT]$")


def _items(top: Fields, key: str, allowed: tuple[str, ...]) -> list[Fields]:

    raw = top.data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise top.error(key, f"expected a list, got {kind_of(raw)}")
    return [Fields(top.source, top.where(f"{key}[{i}]"), v, allowed) for i, v in enumerate(raw)]


def _scalar(f: Fields, key: str, value: Any) -> str:
    """A YAML scalar read into a string the way container-structure-test's Go YAML does."""

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise f.error(key, f"expected a string, got {kind_of(value)}")


def _name(f: Fields) -> str:
    name = f.text("name", required=True)
    assert name is not None
    return name


def _strings(f: Fields, key: str) -> tuple[str, ...]:

    raw = f.data.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise f.error(key, f"expected a list of strings, got {kind_of(raw)}")
    return tuple(_scalar(f, f"{key}[{i}]", item) for i, item in enumerate(raw))


def _regexes(f: Fields, key: str) -> tuple[str, ...]:
    patterns = _strings(f, key)
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise f.error(f"{key}[{i}]", f"invalid regular expression: {exc}") from None
    return patterns


def _optional_text(f: Fields, key: str) -> str | None:
    value = f.data.get(key)
    text = None if value is None else _scalar(f, key, value)
    return text or None  # "" is Go's zero value: not checked


def _optional_int(f: Fields, key: str) -> int | None:
    if f.data.get(key) is None:
        return None
    return f.integer(key, 0, low=0, high=2**31 - 1)


def _env_vars(f: Fields, key: str, *, need_value: bool) -> tuple[EnvVar, ...]:
    result: list[EnvVar] = []
    for item in _items(f, key, ("key", "value", "isRegex")):
        name = _scalar(item, "key", item.data.get("key", ""))
        if not name:
            raise item.error("key", "is required")
        raw = item.data.get("value")
        value = "" if raw is None else _scalar(item, "value", raw)
        if need_value and not value:
            raise item.error("value", "must not be empty")
        regex = item.boolean("isRegex", False)
        if regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise item.error("value", f"invalid regular expression: {exc}") from None
        result.append(EnvVar(name, value, regex))
    return tuple(result)


def _commands(f: Fields, key: str) -> tuple[tuple[str, ...], ...]:

    raw = f.data.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, list) for c in raw):
        problem = f"expected a list of commands, each a list of strings, got {kind_of(raw)}"
        raise f.error(key, problem)
    commands = tuple(
        tuple(_scalar(f, f"{key}[{i}][{j}]", part) for j, part in enumerate(command))
        for i, command in enumerate(raw)
    )
    for i, command in enumerate(commands):
        if not command:
            raise f.error(f"{key}[{i}]", "empty command")
    return commands


def _command(f: Fields) -> CommandTest:
    name = _name(f)
    command = f.data.get("command")
    if isinstance(command, list):
        raise f.error(
            "command",
            "is a list (schema 1.0.0); in 2.0.0 it is the program only",
            hint="put the program in `command` and the rest in `args`",
        )
    command_text = f.text("command", required=True)
    assert command_text is not None
    return CommandTest(
        name=name,
        command=command_text,
        args=_strings(f, "args"),
        env_vars=_env_vars(f, "envVars", need_value=True),
        setup=_commands(f, "setup"),
        teardown=_commands(f, "teardown"),
        expected_output=_regexes(f, "expectedOutput"),
        excluded_output=_regexes(f, "excludedOutput"),
        expected_error=_regexes(f, "expectedError"),
        excluded_error=_regexes(f, "excludedError"),
        exit_code=f.integer("exitCode", 0, low=-1, high=255),
    )


def _existence(f: Fields) -> FileExistenceTest:
    name = _name(f)
    path = f.text("path", required=True)
    assert path is not None
    permissions = _optional_text(f, "permissions")
    if permissions is not None and not _PERMISSIONS_RE.match(permissions):
        raise f.error("permissions", f"{permissions!r} is not a permission string like -rw-r--r--")
    executable = _optional_text(f, "isExecutableBy")
    if executable is not None and executable not in EXECUTABLE_BY:
        raise f.error("isExecutableBy", f"{executable!r} is not one of {', '.join(EXECUTABLE_BY)}")
    return FileExistenceTest(
        name=name,
        path=path,
        should_exist=f.boolean("shouldExist", True),
        permissions=permissions,
        uid=_optional_int(f, "uid"),
        gid=_optional_int(f, "gid"),
        is_executable_by=executable,
    )


def _content(f: Fields) -> FileContentTest:
    name = _name(f)
    path = f.text("path", required=True)
    assert path is not None
    return FileContentTest(
        name=name,
        path=path,
        expected_contents=_regexes(f, "expectedContents"),
        excluded_contents=_regexes(f, "excludedContents"),
    )


def _optional_list(f: Fields, key: str) -> tuple[str, ...] | None:
    return None if f.data.get(key) is None else _strings(f, key)


def _metadata(f: Fields) -> MetadataTest:
    return MetadataTest(
        env_vars=_env_vars(f, "envVars", need_value=False),
        unbound_env_vars=tuple(v.key for v in _env_vars(f, "unboundEnvVars", need_value=False)),
        labels=_env_vars(f, "labels", need_value=False),
        exposed_ports=_strings(f, "exposedPorts"),
        unexposed_ports=_strings(f, "unexposedPorts"),
        entrypoint=_optional_list(f, "entrypoint"),
        cmd=_optional_list(f, "cmd"),
        workdir=_optional_text(f, "workdir"),
        user=_optional_text(f, "user"),
        volumes=_strings(f, "volumes"),
        unmounted_volumes=_strings(f, "unmountedVolumes"),
    )


def _run_options(f: Fields, base: Path) -> RunOptions:
    env_file = _optional_text(f, "envFile")
    path = (base / env_file) if env_file else None
    if path is not None and not path.is_file():
        raise f.error("envFile", f"file {env_file} not found (next to {Path(f.source).name})")
    return RunOptions(
        user=_optional_text(f, "user"),
        privileged=f.boolean("privileged", False),
        tty=f.boolean("allocateTty", False),
        env_vars=_strings(f, "envVars"),
        env_file=path,
        capabilities=_strings(f, "capabilities"),
        bind_mounts=_strings(f, "bindMounts"),
    )
