"""``smoke.structure`` validation: container-structure-test's schema read strictly, each mistake
one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.project import load_config
from pipeline.smoke.structure_suite import CommandTest, EnvVar, FileExistenceTest


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name files as the user gave them: pipeline.yaml


def write(tmp_path: Path, structure: object) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    config = {"image": "team/app", "build": {"context": "."}, "smoke": {"structure": structure}}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return Path("pipeline.yaml")


def error(tmp_path: Path, structure: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, structure))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_inline_suite_is_read_with_container_structure_test_defaults(tmp_path: Path) -> None:
    suite = {
        "schemaVersion": "2.0.0",
        "commandTests": [{"name": "n", "command": "node", "args": ["-v", 3]}],
        "fileExistenceTests": [{"name": "f", "path": "/app"}],
        "metadataTest": {"labels": [{"key": "a", "value": "^b$", "isRegex": True}],
                         "exposedPorts": [3000], "entrypoint": []},
        "licenseTests": [{"debian": True}],
    }  # fmt: skip

    structure = load_config(write(tmp_path, suite)).smoke.structure

    assert structure is not None and structure.source == "pipeline.yaml"
    assert structure.command_tests == (CommandTest("n", "node", ("-v", "3")),)
    assert structure.command_tests[0].exit_code == 0
    assert structure.file_existence_tests == (FileExistenceTest("f", "/app", should_exist=True),)
    assert structure.metadata is not None
    assert structure.metadata.labels == (EnvVar("a", "^b$", True),)
    assert structure.metadata.exposed_ports == ("3000",)
    assert structure.metadata.entrypoint == () and structure.metadata.cmd is None
    assert structure.license_tests == 1


def test_a_container_structure_test_file_is_read_relative_to_pipeline_yaml(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "cst.yaml").write_text(
        "schemaVersion: '2.0.0'\nfileContentTests:\n- name: x\n  path: /etc/os-release\n"
        "  expectedContents: ['bookworm']\n"
    )

    structure = load_config(write(tmp_path, "tests/cst.yaml")).smoke.structure

    assert structure is not None and structure.source == "tests/cst.yaml"
    assert structure.file_content_tests[0].expected_contents == ("bookworm",)


@pytest.mark.parametrize(
    ("structure", "expected"),
    [
        ({"commandTests": [{"name": "x", "command": "ls", "expectedOuput": ["a"]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].expectedOuput: unknown key"),
        ({"commandTests": [{"command": "ls"}]},
         "pipeline.yaml: smoke.structure.commandTests[0].name: is required"),
        ({"commandTests": [{"name": "x", "command": ["ls", "-l"]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].command: is a list (schema 1.0.0)"),
        ({"commandTests": [{"name": "x", "command": "ls", "expectedOutput": ["(unclosed"]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].expectedOutput[0]: invalid regular "
         "expression"),
        ({"commandTests": [{"name": "x", "command": "ls", "expectedOutput": "one"}]},
         "pipeline.yaml: smoke.structure.commandTests[0].expectedOutput: expected a list of "
         "strings"),
        ({"commandTests": [{"name": "x", "command": "ls", "setup": ["touch /x"]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].setup: expected a list of commands"),
        ({"commandTests": [{"name": "x", "command": "ls", "exitCode": "1"}]},
         "pipeline.yaml: smoke.structure.commandTests[0].exitCode: expected an integer"),
        ({"commandTests": [{"name": "x", "command": "ls", "envVars": [{"key": "A"}]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].envVars[0].value: must not be empty"),
        ({"fileExistenceTests": [{"name": "x", "path": "/a", "permissions": "rw-r--r--"}]},
         "pipeline.yaml: smoke.structure.fileExistenceTests[0].permissions: 'rw-r--r--' is not a "
         "permission string"),
        ({"fileExistenceTests": [{"name": "x", "path": "/a", "isExecutableBy": "world"}]},
         "pipeline.yaml: smoke.structure.fileExistenceTests[0].isExecutableBy: 'world' is not one "
         "of owner, group, other, any"),
        ({"fileExistenceTests": [{"name": "x", "path": "/a", "uid": -2}]},
         "pipeline.yaml: smoke.structure.fileExistenceTests[0].uid: must be between 0"),
        ({"fileExistenceTests": [{"name": "x", "path": "/a", "shouldExist": "no"}]},
         "pipeline.yaml: smoke.structure.fileExistenceTests[0].shouldExist: expected true or "
         "false"),
        ({"metadataTest": {"labels": [{"value": "x"}]}},
         "pipeline.yaml: smoke.structure.metadataTest.labels[0].key: is required"),
        ({"metadataTest": {"labels": [{"key": "a", "value": "[", "isRegex": True}]}},
         "pipeline.yaml: smoke.structure.metadataTest.labels[0].value: invalid regular expression"),
        ({"metadataTest": {"user": "root", "healthcheck": True}},
         "pipeline.yaml: smoke.structure.metadataTest.healthcheck: unknown key"),
        ({"schemaVersion": "1.0.0"},
         "pipeline.yaml: smoke.structure.schemaVersion: '1.0.0' is not supported"),
        ({"comandTests": []}, "pipeline.yaml: smoke.structure.comandTests: unknown key"),
        (["not", "a", "mapping"],
         "pipeline.yaml: smoke.structure: expected a mapping of tests or the path"),
        ("missing.yaml", "pipeline.yaml: smoke.structure: file missing.yaml not found"),
        ({"containerRunOptions": {"envFile": "nope.env"}},
         "pipeline.yaml: smoke.structure.containerRunOptions.envFile: file nope.env not found"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_the_field(
    tmp_path: Path, structure: object, expected: str
) -> None:
    assert error(tmp_path, structure).startswith(expected)


def test_errors_in_a_referenced_file_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "cst.yaml").write_text(
        "schemaVersion: 2.0.0\nfileExistenceTests:\n- name: x\n  path: /a\n  uid: root\n"
    )
    assert error(tmp_path, "cst.yaml").startswith(
        "cst.yaml: fileExistenceTests[0].uid: expected an integer, got a string ('root')"
    )


def test_a_referenced_file_needs_its_schema_version(tmp_path: Path) -> None:
    (tmp_path / "cst.yaml").write_text("commandTests: []\n")
    assert error(tmp_path, "cst.yaml").startswith("cst.yaml: schemaVersion: is required")
