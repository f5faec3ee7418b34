"""Structure tests run by the real container-structure-test against real images: each test
kind passes once and fails once with its name in the message, container-structure-test's own test
files and documented examples run unchanged, and a run cut short (stop, time limit, SIGTERM)
leaves no container or image behind — CST labels nothing itself, hoist's engine socket does.

The CST files are in ``data/cst/`` (see its NOTICE: Apache-2.0, copied unchanged):
``readme_examples.yaml`` holds the README's example blocks joined under one schemaVersion,
``metadata_test.yaml``, ``ubuntu_22_04_test.yaml`` and the two ``containeropts`` files are that
project's ``tests/amd64/`` files. Only the images were adapted: ``Dockerfile.metadata`` is theirs
with ``FROM ubuntu:22.04`` replaced by the offline base, the ubuntu image is the offline base
with the few Ubuntu files the test looks for, and the README image provides what the examples
assume (a ``luke`` user, the httpredir sources line, a stand-in ``virtualenv``/``pip`` since
nothing can be downloaded here).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import threading
import time
from pathlib import Path

import docker.errors
import pytest
import yaml

from pipeline.smoke import structure_run
from pipeline.smoke.stage import RUN_LABEL
from pipeline.smoke.structure_run import run_structure
from pipeline.smoke.verdicts import Verdict
from tests.conftest import run_invoke
from tests.integration.smoke_images import BASE, assert_run_left_nothing, images, smoke_config
from tests.support.invoke_process import InvokeProcess

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


# What ubuntu:22.04 has and tests/amd64/ubuntu_22_04_test.yaml looks for, on the offline base.
UBUNTU_IMAGE = f"""\
FROM {BASE}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN echo 'deb http://archive.ubuntu.com/ubuntu jammy main' > /etc/apt/sources.list \\
 && : > /etc/machine-id && mkdir -p /usr/share/doc/ubuntu-keyring \\
 && cp /usr/share/doc/dash/copyright /usr/share/doc/ubuntu-keyring/copyright \\
 && echo 'APT::AutoRemove::SuggestsImportant "false";' > /etc/apt/apt.conf.d/01autoremove-ubuntu
"""


@pytest.fixture(scope="module")
def structure_images(docker_client, node_base):  # type: ignore[no-untyped-def]
    yield from images(
        docker_client,
        APP,
        README_IMAGE,
        CST_METADATA_IMAGE,
        UBUNTU_IMAGE,
        tool=TOOL,
        virtualenv=VIRTUALENV,
        pip=PIP,
    )


def structure(docker_client, image: str, tmp_path: Path, suite: dict | str, stop=None):  # type: ignore[no-untyped-def,type-arg]
    """Validate ``suite`` as ``smoke.structure`` and run it; results by name, and the log."""
    config = smoke_config(tmp_path, {"structure": suite})
    assert config.structure is not None
    lines: list[str] = []
    run_id = f"structure-{tmp_path.name}"
    image_id = docker_client.images.get(image).id
    results = run_structure(docker_client, image_id, config.structure, {RUN_LABEL: run_id},
                            lines.append, stop)  # fmt: skip
    assert_nothing_labelled(docker_client, run_id)
    return {r.name: r for r in results}, lines


def assert_nothing_labelled(docker_client, run_id: str) -> None:  # type: ignore[no-untyped-def]
    left = {"label": f"{RUN_LABEL}={run_id}"}
    assert docker_client.containers.list(all=True, filters=left) == []
    assert docker_client.images.list(filters=left) == []  # committed setup steps are removed


PASSING = {
    "schemaVersion": "2.0.0",
    "globalEnvVars": [{"key": "GREETING", "value": "hi-from-$APP_HOME"}],
    "commandTests": [
        # Go's regexp: `$` is the end of the text (before echo's newline only in (?m) mode).
        {"name": "tool runs", "command": "$APP_HOME/bin/tool", "args": ["a", "b"],
         "expectedOutput": ["(?m)^tool a b$"], "excludedOutput": ["error"],
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
        # Go's FileMode prints setuid as a leading "u", not ls's "s" in the owner's x.
        {"name": "su is setuid", "path": "/usr/bin/su", "permissions": "urwxr-xr-x"},
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

    assert {name: r.message for name, r in results.items() if not r.passed} == {}
    assert list(results) == [
        "command 'tool runs'", "command 'exit code'", "command 'setup is committed'",
        "file content 'config content'", "file exists 'tool'", "file exists 'config'",
        "file exists 'su is setuid'", "file exists 'no env file'", "metadata",
    ]  # fmt: skip
    log = "\n".join(lines)
    assert "PASS  structure: command 'setup is committed'  (" in log
    assert "container-structure-test 1.19.1: 9/9 passed in " in log


def test_an_untagged_image_under_test_survives_the_clean_up(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path
):
    """The runner tags an image only once lint passed, so smoke may test an untagged one; CST
    force-removes the images it commits for environments and setup steps, and the engine
    would prune the untagged image under test with them."""
    untagged = f"FROM {structure_images[0]}\nLABEL org.example.run={tmp_path.name}\n"
    stream = docker_client.api.build(fileobj=io.BytesIO(untagged.encode()), rm=True, decode=True)
    image_id = next(line["aux"]["ID"] for line in stream if "aux" in line)
    try:
        assert docker_client.api.inspect_image(image_id)["RepoTags"] == []
        results, _ = structure(docker_client, image_id, tmp_path, PASSING)
        assert {name: r.message for name, r in results.items() if not r.passed} == {}
        assert docker_client.api.inspect_image(image_id)["Id"] == image_id  # still there
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.api.remove_image(image_id)


@pytest.mark.parametrize(
    ("suite", "name", "message"),
    [
        (
            {"fileExistenceTests": [{"name": "settings", "path": "/srv/app/settings.json"}]},
            "file exists 'settings'",
            "Error examining file in container: Error retrieving file from container: API error "
            "(404): Could not find the file /srv/app/settings.json in container ",
        ),
        (
            {"commandTests": [{"name": "tool version", "command": "/srv/app/bin/tool",
                               "args": ["--version"], "expectedOutput": ["^v2\\."]}]},
            "command 'tool version'",
            "Expected string '^v2\\.' not found in output 'tool --version\\n'",
        ),
        (
            {"metadataTest": {"labels": [{"key": "org.example.owner", "value": "team-a"}],
                              "user": "root"}},
            "metadata",
            "label org.example.owner not found in image metadata; "
            "Image user 1000:1000 does not match config user: root",
        ),
        (
            {"fileContentTests": [{"name": "debug off", "path": "/srv/app/app.conf",
                                   "excludedContents": ["mode=prod"]}]},
            "file content 'debug off'",
            "Excluded string 'mode=prod' found in file content string "
            "'version=1.2.3\\nmode=production\\n'",
        ),
        (
            {"fileExistenceTests": [{"name": "tool for all", "path": "/srv/app/bin/tool",
                                     "isExecutableBy": "other", "uid": 0}]},
            "file exists 'tool for all'",
            "/srv/app/bin/tool has incorrect executable bit. Expected to be executable by other, "
            "Actual: -rwxr-x---; /srv/app/bin/tool has incorrect user ownership. Expected: 0, "
            "Actual: 1000",
        ),
        (
            {"commandTests": [{"name": "exit status", "command": "/srv/app/bin/tool",
                               "envVars": [{"key": "TOOL_EXIT", "value": "2"}]}]},
            "command 'exit status'",
            "Test 'exit status' exited with incorrect error code. Expected: 0, Actual: 2",
        ),
    ],
    ids=["file-missing", "output-mismatch", "metadata", "content", "mode-and-owner",
         "exit-code"],
)  # fmt: skip
def test_each_kind_fails_naming_the_test(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path, suite, name, message
):
    results, lines = structure(docker_client, structure_images[0], tmp_path, suite)

    assert list(results) == [name]
    result = results[name]
    assert result.verdict is Verdict.FAILED
    assert result.message.startswith(message)
    assert "\n" not in result.message
    assert result.diff().startswith("       got: ")  # CST's errors in full, output included
    assert f"FAIL  structure: {name}  (" in "\n".join(lines)


def test_container_structure_test_readme_examples_run_unchanged(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path
):
    (tmp_path / "cst").mkdir()
    (tmp_path / "cst" / "readme.yaml").write_bytes((DATA / "readme_examples.yaml").read_bytes())

    results, _ = structure(docker_client, structure_images[1], tmp_path, "cst/readme.yaml")

    verdicts = {name: r.verdict.value for name, r in results.items()}
    assert verdicts == {
        "command 'gunicorn flask'": "pass",  # two setup steps, each committed
        "command 'apt-get upgrade'": "pass",
        "command 'say hello world'": "pass",
        "file content 'Debian Sources'": "pass",
        # The README's own example asks a directory for file permissions: it fails anywhere.
        "file exists 'Root'": "fail",
        # Its licence example names two files no image has.
        "licenses": "fail",
        "metadata": "pass",
    }
    assert results["file exists 'Root'"].message.startswith(
        "/ has incorrect permissions. Expected: -rw-r--r--, Actual: drwxr-xr-x"
    )
    assert "Could not find the file /foo/bar" in (results["licenses"].got or "")


@pytest.mark.parametrize(
    ("image", "file", "count"),
    [(2, "metadata_test.yaml", 1), (3, "ubuntu_22_04_test.yaml", 11)],
    ids=["metadata", "ubuntu"],
)
def test_container_structure_test_own_test_files_pass_unchanged(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path, image, file, count
):
    (tmp_path / file).write_bytes((DATA / file).read_bytes())

    results, _ = structure(docker_client, structure_images[image], tmp_path, file)

    assert {name: r.message for name, r in results.items() if not r.passed} == {}
    assert len(results) == count


@pytest.mark.parametrize(
    ("file", "name"),
    [("ubuntu_22_04_containeropts_env_test.yaml", "command 'Test envVars containerRunOptions'"),
     ("ubuntu_22_04_containeropts_envfile_test.yaml",
      "command 'Test envFile containerRunOptions'")],
    ids=["envVars", "envFile"],
)  # fmt: skip
def test_container_run_options_from_the_environment_and_an_env_file(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file, name
):
    monkeypatch.setenv("FOO", "keepitsecret!")  # what CST's own test script sets
    monkeypatch.setenv("BAR", "keepitsafe!")
    (tmp_path / "tests").mkdir()
    shutil.copy(DATA / "envfile", tmp_path / "tests" / "envfile")  # CST runs next to pipeline.yaml
    shutil.copy(DATA / file, tmp_path / file)

    results, _ = structure(docker_client, structure_images[3], tmp_path, file)

    assert {n: r.verdict for n, r in results.items()} == {name: Verdict.PASSED}


SLOW = {
    "commandTests": [
        {"name": "slow", "setup": [["sh", "-c", "echo step > /tmp/step"]],
         "command": "sleep", "args": ["60"]},
    ],
}  # fmt: skip


def sleeping(docker_client) -> list[str]:  # type: ignore[no-untyped-def]
    """The runs whose structure test ``sleep 60`` is running now, found by the labels that
    hoist's engine socket put on CST's container (CST itself labels nothing)."""
    wanted = {"label": "io.hoist.role=structure", "status": "running"}
    found = docker_client.containers.list(filters=wanted, ignore_removed=True)
    return [c.labels[RUN_LABEL] for c in found if c.attrs["Config"]["Cmd"] == ["sleep", "60"]]


def wait_for(condition, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_stopped_run_kills_cst_and_removes_its_containers_and_images(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path
):
    stop = threading.Event()
    run_id = f"structure-{tmp_path.name}"
    found: list[bool] = []

    def stop_once_running() -> None:
        wait_for(lambda: run_id in sleeping(docker_client))
        found.append(run_id in sleeping(docker_client))
        stop.set()

    watcher = threading.Thread(target=stop_once_running)
    watcher.start()
    started = time.monotonic()
    results, lines = structure(docker_client, structure_images[0], tmp_path, SLOW, stop)
    watcher.join()

    assert found == [True], "no container of the run carried its labels"
    assert results == {} and lines == []
    assert time.monotonic() - started < 50  # stopped, not waited out


def test_a_run_over_its_time_limit_fails_and_leaves_nothing(  # type: ignore[no-untyped-def]
    docker_client, structure_images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(structure_run, "SECONDS_PER_TEST", 8.0)

    results, _ = structure(docker_client, structure_images[0], tmp_path, SLOW)

    assert [(name, r.verdict) for name, r in results.items()] == [
        ("container-structure-test", Verdict.FAILED)
    ]
    assert results["container-structure-test"].message == (
        "container-structure-test did not finish within 8 s (8 s a test)"
    )


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
        "hoist: error: smoke: Expected string '^v99\\.' not found in output 'v18." in result.stderr
    )
    assert "\\n' [structure: command 'node is 99']" in result.stderr
    assert "FAIL  structure: command 'node is 99'" in result.stdout
    assert "PASS  service: graceful stop (SIGTERM)" in result.stdout
    assert f"junit: {junit}" in result.stdout and junit.is_file()
    assert "Traceback" not in result.stderr
    assert_run_left_nothing(docker_client, hoist_state)


def test_sigterm_during_structure_tests_leaves_nothing(  # type: ignore[no-untyped-def]
    make_app, hoist_state, docker_client, tmp_path: Path
):
    config = make_app({"smoke": {"structure": SLOW, "stop_timeout": 5}})
    env = {**hoist_state, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()

    with InvokeProcess("smoke", "--config", str(config), env=env) as run:
        run.wait_for_line(lambda line: line.startswith("structure tests from"))
        wait_for(lambda: bool(sleeping(docker_client)))
        runs = sleeping(docker_client)
        run.signal_group(signal.SIGTERM)  # CST has its own session: only hoist gets it
        assert run.wait(60) == 143, run.output

    assert "Traceback" not in run.stderr
    report = json.loads(
        (Path(hoist_state["HOIST_STATE_DIR"]) / "reports" / "last.json").read_text()
    )
    assert report["run_id"] in runs
    assert_run_left_nothing(docker_client, hoist_state)
    assert sorted((tmp_path / "tmp").rglob("*")) == []  # the suite file, report, socket
