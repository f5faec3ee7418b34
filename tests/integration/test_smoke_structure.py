"""Structure tests (container-structure-test schema 2.0.0) against real images: each test kind
passes once and fails once with its name in the message, and container-structure-test's own
documented examples run unchanged.

The examples are in ``data/cst/``: ``readme_examples.yaml`` holds the README's example blocks
copied unchanged (joined under one schemaVersion), and ``metadata_test.yaml`` is that project's
``tests/amd64/ubuntu_22_04_metadata_test.yaml`` byte for byte. Only the images were adapted:
``Dockerfile.metadata`` is theirs with ``FROM ubuntu:22.04`` replaced by the offline base, and the
README image provides what the examples assume (a ``luke`` user, the httpredir sources line, a
stand-in ``virtualenv``/``pip`` since nothing can be downloaded here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.outcome import Verdict
from pipeline.smoke import RUN_LABEL
from pipeline.structure_run import run_structure
from tests.conftest import run_invoke
from tests.integration.smoke_images import BASE, assert_run_left_nothing, images, smoke_config

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data" / "cst"

TOOL = """\
#!/bin/sh
echo "tool $*"
echo "warn: $GREETING" >&2
exit "${TOOL_EXIT:-0}"
"""

APP = f"""\
FROM {BASE}
ENV APP_HOME=/srv/app GREETING=hello
LABEL org.example.team=platform
COPY tool /srv/app/bin/tool
RUN printf 'version=1.2.3\\nmode=production\\n' > /srv/app/app.conf \\
 && chown -R 1000:1000 /srv/app/bin && chmod 0750 /srv/app/bin/tool
WORKDIR /srv/app
USER 1000:1000
EXPOSE 8080
CMD ["node", "-e", "setInterval(() => {{}}, 1000)"]
"""

VIRTUALENV = '#!/bin/sh\nmkdir -p "$1/bin"\n'
PIP = """\
#!/bin/sh
# offline stand-in for `pip install NAME...`: puts an executable NAME into $VIRTUAL_ENV/bin
shift
for name in "$@"; do
  printf '#!/bin/sh\\n' > "$VIRTUAL_ENV/bin/$name" && chmod +x "$VIRTUAL_ENV/bin/$name"
done
"""

README_IMAGE = f"""\
FROM {BASE}
ENV foo=baz PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY virtualenv pip /usr/local/bin/
RUN chmod 755 /usr/local/bin/virtualenv /usr/local/bin/pip \\
 && useradd --create-home luke && mkdir /env /app /test && chown luke /env \\
 && echo 'deb http://httpredir.debian.org/debian bookworm main' > /etc/apt/sources.list
LABEL com.example.vendor="ACME Incorporated" build-date="2024-05-06T07:08:09.123456"
EXPOSE 8080 2345
VOLUME /test
WORKDIR /app
USER luke
CMD ["/bin/bash"]
"""

# container-structure-test's tests/Dockerfile.metadata, FROM replaced.
CST_METADATA_IMAGE = f"""\
FROM {BASE}

ENV SOME_KEY="SOME_VAL" \\
    EMPTY_VAR="" \\
    FOO_BAR="FOO\\:BAR=BAZ" \\
    REGEX_VAR="test-2.1.8"

LABEL localnet.localdomain.commit_hash="0123456789abcdef0123456789abcdef01234567" \\
      localnet.my-domain.my-label="my test label" \\
      label-with-empty-val=""
"""


@pytest.fixture(scope="module")
def structure_images(docker_client, node_base):  # type: ignore[no-untyped-def]
    yield from images(
        docker_client,
        APP,
        README_IMAGE,
        CST_METADATA_IMAGE,
        tool=TOOL,
        virtualenv=VIRTUALENV,
        pip=PIP,
    )


def structure(docker_client, image: str, tmp_path: Path, suite: dict | str):  # type: ignore[no-untyped-def,type-arg]
    """Validate ``suite`` as ``smoke.structure`` and run it; results by name, and the log."""
    config = smoke_config(tmp_path, {"structure": suite})
    assert config.structure is not None
    lines: list[str] = []
    run_id = f"structure-{tmp_path.name}"
    results = run_structure(docker_client, image, config.structure, {RUN_LABEL: run_id},
                            lines.append)  # fmt: skip
    left = {"label": f"{RUN_LABEL}={run_id}"}
    assert docker_client.containers.list(all=True, filters=left) == []
    assert docker_client.images.list(filters=left) == []  # committed setup steps are removed
    return {r.name: r for r in results}, lines


PASSING = {
    "schemaVersion": "2.0.0",
    "globalEnvVars": [{"key": "GREETING", "value": "hi-from-$APP_HOME"}],
    "commandTests": [
        {"name": "tool runs", "command": "$APP_HOME/bin/tool", "args": ["a", "b"],
         "expectedOutput": ["^tool a b$"], "excludedOutput": ["error"],
         "expectedError": ["warn: hi-from-/srv/app"], "excludedError": ["fatal"]},
        {"name": "exit code", "command": "/srv/app/bin/tool", "envVars": [
            {"key": "TOOL_EXIT", "value": "3"}], "exitCode": 3},
        {"name": "setup is committed", "setup": [["sh", "-c", "echo prepared > /tmp/state"]],
         "command": "cat", "args": ["/tmp/state"], "expectedOutput": ["prepared"]},
    ],
    "fileExistenceTests": [
        {"name": "tool", "path": "/srv/app/bin/tool", "permissions": "-rwxr-x---", "uid": 1000,
         "gid": 1000, "isExecutableBy": "group"},
        {"name": "config", "path": "$APP_HOME/app.conf", "uid": 0, "permissions": "-rw-r--r--"},
        {"name": "su is setuid", "path": "/usr/bin/su", "permissions": "-rwsr-xr-x"},
        {"name": "no env file", "path": "/srv/app/.env", "shouldExist": False},
    ],
    "fileContentTests": [
        {"name": "config content", "path": "/srv/app/app.conf",
         "expectedContents": ["version=1\\.2\\.\\d+", "(?m)^mode=production$"],
         "excludedContents": ["mode=debug"]},
    ],
    "metadataTest": {
        "envVars": [{"key": "APP_HOME", "value": "/srv/app"},
                    {"key": "GREETING", "value": "^hel+o$", "isRegex": True}],
        "unboundEnvVars": [{"key": "DEBUG"}],
        "labels": [{"key": "org.example.team", "value": "platform"}],
        "exposedPorts": ["8080"], "unexposedPorts": ["22"], "workdir": "/srv/app",
        "user": "1000:1000", "cmd": ["node", "-e", "setInterval(() => {}, 1000)"],
        "entrypoint": [], "unmountedVolumes": ["/data"],
    },
}  # fmt: skip


def test_every_kind_of_structure_test_passes(docker_client, structure_images, tmp_path: Path):  # type: ignore[no-untyped-def]
    results, lines = structure(docker_client, structure_images[0], tmp_path, PASSING)

    failed = {name: r.message for name, r in results.items() if not r.passed}
    assert failed == {}
    assert len(results) == 3 + 4 + 1 + 11
    assert "PASS  structure: command 'setup is committed'  (" in "\n".join(lines)


@pytest.mark.parametrize(
    ("suite", "name", "message"),
    [
        (
            {"fileExistenceTests": [{"name": "settings", "path": "/srv/app/settings.json"}]},
            "file exists 'settings'",
            "/srv/app/settings.json should exist but does not",
        ),
        (
            {"commandTests": [{"name": "tool version", "command": "/srv/app/bin/tool",
                               "args": ["--version"], "expectedOutput": ["^v2\\."]}]},
            "command 'tool version'",
            "output does not match '^v2\\\\.'",
        ),
        (
            {"metadataTest": {"labels": [{"key": "org.example.owner", "value": "team-a"}]}},
            "metadata label org.example.owner",
            "label org.example.owner not found in image metadata",
        ),
        (
            {"fileContentTests": [{"name": "debug off", "path": "/srv/app/app.conf",
                                   "excludedContents": ["mode=prod"]}]},
            "file content 'debug off'",
            "content matches excluded 'mode=prod'",
        ),
        (
            {"fileExistenceTests": [{"name": "tool for all", "path": "/srv/app/bin/tool",
                                     "isExecutableBy": "other", "uid": 0}]},
            "file exists 'tool for all'",
            "/srv/app/bin/tool: not executable by other (-rwxr-x---); uid 1000, expected 0",
        ),
        (
            {"commandTests": [{"name": "exit status", "command": "/srv/app/bin/tool",
                               "envVars": [{"key": "TOOL_EXIT", "value": "2"}]}]},
            "command 'exit status'",
            "exited with code 2, expected 0",
        ),
    ],
    ids=["file-missing", "output-mismatch", "label-missing", "content", "mode-and-owner",
         "exit-code"],
)  # fmt: skip
def test_each_kind_fails_naming_the_test(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path, suite, name, message
):
    results, lines = structure(docker_client, structure_images[0], tmp_path, suite)

    assert list(results) == [name]
    result = results[name]
    assert result.verdict is Verdict.FAILED
    assert result.message == message
    assert result.diff()  # expected vs got
    assert f"FAIL  structure: {name}  (" in "\n".join(lines)


def test_container_structure_test_readme_examples_run_unchanged(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path
):
    (tmp_path / "cst").mkdir()
    (tmp_path / "cst" / "readme.yaml").write_bytes((DATA / "readme_examples.yaml").read_bytes())

    results, _ = structure(docker_client, structure_images[1], tmp_path, "cst/readme.yaml")

    verdicts = {name: r.verdict.value for name, r in results.items()}
    assert verdicts == {
        "metadata env foo": "pass",
        "metadata label com.example.vendor": "pass",
        "metadata label build-date": "pass",
        "metadata entrypoint": "pass",
        "metadata cmd": "pass",
        "metadata workdir": "pass",
        "metadata user": "pass",
        "metadata port 8080 exposed": "pass",
        "metadata port 2345 exposed": "pass",
        "metadata volume /test": "pass",
        # The README's own example asks a directory for file permissions: it fails anywhere.
        "file exists 'Root'": "fail",
        "file content 'Debian Sources'": "pass",
        "command 'gunicorn flask'": "pass",  # two setup steps, each committed
        "command 'apt-get upgrade'": "pass",
        "command 'say hello world'": "pass",
        "licenseTests": "skip",
    }
    assert results["file exists 'Root'"].message == (
        "/: permissions drwxr-xr-x, expected -rw-r--r--; uid 0, expected 1000; gid 0, expected 1000"
    )


def test_container_structure_test_metadata_example_runs_unchanged(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path
):
    (tmp_path / "metadata_test.yaml").write_bytes((DATA / "metadata_test.yaml").read_bytes())

    results, _ = structure(docker_client, structure_images[2], tmp_path, "metadata_test.yaml")

    assert {name: r.message for name, r in results.items() if not r.passed} == {}
    assert len(results) == 10


def test_structure_failure_stops_invoke_smoke_naming_the_test(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client, tmp_path: Path
):
    suite = {
        "schemaVersion": "2.0.0",
        "commandTests": [{"name": "node is 99", "command": "node", "args": ["--version"],
                          "expectedOutput": ["^v99\\."]}],
    }  # fmt: skip
    config = make_app({"smoke": {"structure": "structure-tests.yaml", "stop_timeout": 5}})
    (config.parent / "structure-tests.yaml").write_text(yaml.safe_dump(suite))
    junit = tmp_path / "out" / "smoke.xml"

    result = run_invoke("smoke", "--config", str(config), "--junit", str(junit), env=hoist_state)

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "hoist: error: smoke: output does not match '^v99\\\\.' [structure: command 'node is 99']"
        in result.stderr
    )
    assert "FAIL  structure: command 'node is 99'" in result.stdout
    assert "PASS  service: graceful stop (SIGTERM)" in result.stdout
    assert f"junit: {junit}" in result.stdout and junit.is_file()
    assert "Traceback" not in result.stderr
    assert_run_left_nothing(docker_client, hoist_state)
