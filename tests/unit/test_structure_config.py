"""``smoke.structure`` validation: container-structure-test's schema checked strictly at load,
each mistake one line naming the file and the field; what passes goes to CST as it was written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.project import load_config


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


def test_an_inline_suite_is_kept_as_written_for_container_structure_test(tmp_path: Path) -> None:
    suite = {
        "commandTests": [{"name": "n", "command": "node", "args": ["-v", 3]}],
        "fileExistenceTests": [{"name": "f", "path": "/app"}],
        "metadataTest": {"labels": [{"key": "a", "value": "^b$", "isRegex": True}],
                         "exposedPorts": [3000], "entrypoint": []},
        "licenseTests": [{"debian": True}],
    }  # fmt: skip

    structure = load_config(write(tmp_path, suite)).smoke.structure

    assert structure is not None and structure.source == "pipeline.yaml"
    assert structure.data == suite and structure.file is None
    assert structure.workdir == tmp_path  # CST runs next to pipeline.yaml
    assert structure.count == 4  # as CST counts: the metadata test is one


def test_a_container_structure_test_file_is_handed_over_unchanged(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "cst.yaml").write_text(
        "schemaVersion: '2.0.0'\nfileContentTests:\n- name: x\n  path: /etc/os-release\n"
        "  expectedContents: ['\\pL+', 'bookworm']\n"
    )

    structure = load_config(write(tmp_path, "tests/cst.yaml")).smoke.structure

    assert structure is not None and structure.source == "tests/cst.yaml"
    assert structure.file == tmp_path / "tests" / "cst.yaml"
    assert structure.workdir == tmp_path and structure.count == 1


def test_an_env_file_is_found_next_to_pipeline_yaml_where_cst_runs(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "envfile").write_text("FOO=bar\n")
    (tmp_path / "tests" / "cst.yaml").write_text(
        "schemaVersion: 2.0.0\ncontainerRunOptions:\n  envFile: tests/envfile\n"
    )
    assert load_config(write(tmp_path, "tests/cst.yaml")).smoke.structure is not None


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
        ({"commandTests": [{"name": "x", "command": "ls", "expectedOutput": ["a(?=b)"]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].expectedOutput[0]: 'a(?=b)': "
         "container-structure-test's regular expressions (Go's RE2) have no lookaround"),
        ({"fileContentTests": [{"name": "x", "path": "/a", "expectedContents": ["(a)\\1"]}]},
         "pipeline.yaml: smoke.structure.fileContentTests[0].expectedContents[0]: '(a)\\\\1'"),
        ({"commandTests": [{"name": "x", "command": "ls", "setup": [["touch", ["/x"]]]}]},
         "pipeline.yaml: smoke.structure.commandTests[0].setup[0][1]: expected a string"),
        ({"licenseTests": [{"debian": "yes"}]},
         "pipeline.yaml: smoke.structure.licenseTests[0].debian: expected true or false"),
        ({"metadataTest": {"cmd": "node server.js"}},
         "pipeline.yaml: smoke.structure.metadataTest.cmd: expected a list of strings"),
        ("cst.txt", "pipeline.yaml: smoke.structure: cst.txt: container-structure-test reads only "
         ".yaml, .yml, .json files"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_the_field(
    tmp_path: Path, structure: object, expected: str
) -> None:
    (tmp_path / "cst.txt").write_text("schemaVersion: 2.0.0\n")
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
