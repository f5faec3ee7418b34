"""container-structure-test's schema (2.0.0), checked when pipeline.yaml is loaded.

Teams that already keep a ``structure-test.yaml`` for container-structure-test point
``smoke.structure`` at it and CST runs it unchanged; others write the same schema inline. CST
itself only sees a mistake once the image is built and the smoke stage runs, and some mistakes it
never reports as such: a regular expression that does not compile just makes its test fail. So
the section is checked here, field by field, and a typo (``expectedOuput``) is one config error
naming the file and field before any stage runs. Nothing is interpreted: ``structure_run``
hands the tests to CST as they are, and CST's semantics apply.

Regular expressions are CST's (Go's RE2): lookaround and backreferences, which Python's ``re``
would accept, are refused; RE2 syntax that Python lacks (``\\pL``, ``\\z``, ``\\Q…\\E``, the
``U`` flag) is left to CST.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.fields import Fields, kind_of
from pipeline.config.source import read_yaml

SCHEMA_VERSION = "2.0.0"
SUFFIXES = (".yaml", ".yml", ".json")  # CST chooses its parser by the suffix, refuses others
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
_COMMAND = (
    "name", "setup", "teardown", "envVars", "exitCode", "command", "args", "expectedOutput",
    "excludedOutput", "expectedError", "excludedError",
)  # fmt: skip
_EXISTENCE = ("name", "path", "shouldExist", "permissions", "uid", "gid", "isExecutableBy")
_CONTENT = ("name", "path", "expectedContents", "excludedContents")
_LICENSE = ("debian", "files")
_METADATA = (
    "envVars", "unboundEnvVars", "exposedPorts", "unexposedPorts", "entrypoint", "cmd", "workdir",
    "volumes", "unmountedVolumes", "labels", "user",
)  # fmt: skip
_RUN_OPTIONS = (
    "user", "privileged", "allocateTty", "envVars", "envFile", "capabilities", "bindMounts",
)  # fmt: skip
_PERMISSIONS_RE = re.compile(r"^[-dalTLDpSugct?]+[-r][-w][-xsStT][-r][-w][-xsStT][-r][-w][-xsStT]$")
_NOT_RE2 = re.compile(r"(?<!\\)(?:\\\\)*(?:\(\?<?[=!]|\\[1-9])")  # lookaround, backreference
_RE2_ONLY = re.compile(r"(?<!\\)(?:\\\\)*\\[pPzQE]|\(\?[a-zA-Z]*U")


@dataclass(frozen=True)
class StructureSuite:
    """What CST is given: the user's file, or the inline tests to write to a temporary one."""

    source: str  # how messages name it: pipeline.yaml, or the file as the user gave it
    data: Mapping[str, Any]  # the tests as read
    workdir: Path  # where CST runs: pipeline.yaml's directory (``envFile`` is relative to it)
    file: Path | None = None  # the user's own file, handed to CST unchanged
    count: int = 0  # tests as CST counts them (the metadata test is one)


def parse_structure(smoke: Fields, root: Path) -> StructureSuite | None:
    """``smoke.structure``: an inline mapping, or a path (relative to pipeline.yaml) to a file."""
    value = smoke.data.get("structure")
    if value is None:
        return None
    if isinstance(value, str):
        return _file_suite(smoke, value, root)
    if not isinstance(value, Mapping):
        raise smoke.error(
            "structure",
            "expected a mapping of tests or the path of a container-structure-test file",
        )
    top = smoke.section("structure", TOP_KEYS)
    return StructureSuite(top.source, top.data, root, None, _check_suite(top, root))


def _file_suite(smoke: Fields, value: str, root: Path) -> StructureSuite:
    path = (root / value).resolve()
    if not path.is_file():
        raise smoke.error(
            "structure",
            f"file {value} not found (next to {Path(smoke.source).name})",
            hint="give a container-structure-test YAML file or an inline mapping",
        )
    if path.suffix not in SUFFIXES:
        raise smoke.error(
            "structure", f"{value}: container-structure-test reads only {', '.join(SUFFIXES)} files"
        )
    source = str(Path(smoke.source).parent / value)  # as the user would find it
    top = Fields(source, "", read_yaml(path, source), TOP_KEYS)
    if top.data.get("schemaVersion") is None:
        raise top.error(
            "schemaVersion", f"is required (container-structure-test: {SCHEMA_VERSION})"
        )
    return StructureSuite(source, top.data, root, path, _check_suite(top, root))


def _check_suite(top: Fields, root: Path) -> int:
    """Check every test of the suite; how many tests CST will report."""
    version = _text(top, "schemaVersion") or SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise top.error(
            "schemaVersion",
            f"{version!r} is not supported; hoist reads schema {SCHEMA_VERSION}",
            hint="schema 1.0.0 wrote commands as lists: move the program to `command`, the rest "
            "to `args`, and set schemaVersion: '2.0.0'",
        )
    _env_vars(top, "globalEnvVars", need_value=True)
    count = 0
    for key, allowed, check in (
        ("commandTests", _COMMAND, _command),
        ("fileExistenceTests", _EXISTENCE, _existence),
        ("fileContentTests", _CONTENT, _content),
        ("licenseTests", _LICENSE, _license),
    ):
        tests = top.mappings(key, allowed)
        for test in tests:
            check(test)
        count += len(tests)
    if top.data.get("metadataTest") is not None:
        _metadata(top.section("metadataTest", _METADATA))
        count += 1
    _run_options(top.section("containerRunOptions", _RUN_OPTIONS), root)
    return count


def _scalar(f: Fields, key: str, value: Any) -> str:
    """A YAML scalar as CST's Go YAML reads it into a string field (numbers and booleans too)."""
    if not isinstance(value, (str, int, float)):
        raise f.error(key, f"expected a string, got {kind_of(value)}")
    return str(value)


def _text(f: Fields, key: str) -> str | None:
    """A scalar field, or None if unset or empty (Go's zero value: CST does not check it)."""
    value = f.data.get(key)
    return None if value is None else _scalar(f, key, value) or None


def _strings(f: Fields, key: str) -> list[str]:
    raw = f.data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise f.error(key, f"expected a list of strings, got {kind_of(raw)}")
    return [_scalar(f, f"{key}[{i}]", item) for i, item in enumerate(raw)]


def _regex(f: Fields, key: str, pattern: str) -> None:
    if _NOT_RE2.search(pattern):
        raise f.error(
            key,
            f"{pattern!r}: container-structure-test's regular expressions (Go's RE2) have no "
            "lookaround or backreferences",
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        if not _RE2_ONLY.search(pattern):
            raise f.error(key, f"invalid regular expression: {exc}") from None


def _regexes(f: Fields, key: str) -> None:
    for i, pattern in enumerate(_strings(f, key)):
        _regex(f, f"{key}[{i}]", pattern)


def _env_vars(f: Fields, key: str, *, need_value: bool) -> None:
    for item in f.mappings(key, ("key", "value", "isRegex")):
        if _text(item, "key") is None:
            raise item.error("key", "is required")
        value = _text(item, "value") or ""
        if need_value and not value:
            raise item.error("value", "must not be empty")
        if item.boolean("isRegex", False):
            _regex(item, "value", value)


def _commands(f: Fields, key: str) -> None:
    raw = f.data.get(key)
    if raw is None:
        return
    if not isinstance(raw, list) or not all(isinstance(c, list) for c in raw):
        problem = f"expected a list of commands, each a list of strings, got {kind_of(raw)}"
        raise f.error(key, problem)
    for i, command in enumerate(raw):
        if not command:
            raise f.error(f"{key}[{i}]", "empty command")
        for j, part in enumerate(command):
            _scalar(f, f"{key}[{i}][{j}]", part)


def _command(f: Fields) -> None:
    f.text("name", required=True)
    if isinstance(f.data.get("command"), list):
        raise f.error(
            "command",
            "is a list (schema 1.0.0); in 2.0.0 it is the program only",
            hint="put the program in `command` and the rest in `args`",
        )
    f.text("command", required=True)
    _strings(f, "args")
    _env_vars(f, "envVars", need_value=True)
    _commands(f, "setup")
    _commands(f, "teardown")
    for key in ("expectedOutput", "excludedOutput", "expectedError", "excludedError"):
        _regexes(f, key)
    f.integer("exitCode", 0, low=-1, high=255)


def _existence(f: Fields) -> None:
    f.text("name", required=True)
    f.text("path", required=True)
    f.boolean("shouldExist", True)
    permissions = _text(f, "permissions")
    if permissions is not None and not _PERMISSIONS_RE.match(permissions):
        raise f.error("permissions", f"{permissions!r} is not a permission string like -rw-r--r--")
    executable = _text(f, "isExecutableBy")
    if executable is not None and executable not in EXECUTABLE_BY:
        raise f.error("isExecutableBy", f"{executable!r} is not one of {', '.join(EXECUTABLE_BY)}")
    for key in ("uid", "gid"):
        if f.data.get(key) is not None:
            f.integer(key, 0, low=0, high=2**31 - 1)


def _content(f: Fields) -> None:
    f.text("name", required=True)
    f.text("path", required=True)
    _regexes(f, "expectedContents")
    _regexes(f, "excludedContents")


def _license(f: Fields) -> None:
    f.boolean("debian", False)
    _strings(f, "files")


def _metadata(f: Fields) -> None:
    _env_vars(f, "envVars", need_value=False)
    _env_vars(f, "unboundEnvVars", need_value=False)
    _env_vars(f, "labels", need_value=False)
    for key in (
        "exposedPorts",
        "unexposedPorts",
        "entrypoint",
        "cmd",
        "volumes",
        "unmountedVolumes",
    ):
        _strings(f, key)
    _text(f, "workdir")
    _text(f, "user")


def _run_options(f: Fields, root: Path) -> None:
    _text(f, "user")
    f.boolean("privileged", False)
    f.boolean("allocateTty", False)
    for key in ("envVars", "capabilities", "bindMounts"):
        _strings(f, key)
    env_file = _text(f, "envFile")
    if env_file and not (root / env_file).is_file():
        raise f.error(
            "envFile", f"file {env_file} not found (next to pipeline.yaml, where CST runs)"
        )
