"""Secrets: what a real run must never reveal, looked for everywhere it could end up.

A full ``invoke ci`` pushes to two real registries (htpasswd, one reached with docker, one by
hoist's skopeo fan-out) with their passwords in the environment, next to decoy secrets a CI
job typically has (AWS keys, tokens) that hoist must not touch at all. Afterwards each secret
value is searched for in stdout and stderr, every report file, the image's layers, config and
history, the config blobs the registries serve, every file under the run's state dir, TMPDIR
and DOCKER_CONFIG, new files under /tmp — and, while the run lasts, every process's command
line. The docker config must be byte-for-byte unchanged (credentials live in memory only).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import tarfile
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import NODE_APP, run_invoke
from tests.support.reliability import (
    RegistryReader,
    make_service_project,
    service_config,
    unique_image,
    write_config,
)

pytestmark = pytest.mark.integration


class CommandLineWatch:
    """Samples every process's command line while a run lasts, looking for secret values."""

    def __init__(self, values: list[str]) -> None:
        self.values = [v.encode() for v in values]
        self.seen: list[str] = []
        self.samples = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            self.samples += 1
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes()
                except OSError:
                    continue
                for value in self.values:
                    if value in text:
                        self.seen.append(text.replace(b"\0", b" ").decode(errors="replace"))

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


def files_containing(roots: list[Path], values: list[str], skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path.is_symlink() or any(s in str(path) for s in skip):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {v[:4]}..." for v in values if v.encode() in data]
    return found


def new_tmp_files_containing(since: float, values: list[str]) -> list[str]:
    """Files under /tmp changed since ``since`` (other test sessions' pytest dirs aside: this
    test's own tmp_path is scanned whole) that contain a secret."""
    found = []
    for entry in Path("/tmp").iterdir():
        if entry.name.startswith("pytest-of-"):
            continue
        try:
            candidates = [entry] if entry.is_file() else list(entry.rglob("*"))
            fresh = [p for p in candidates if p.is_file() and p.stat().st_mtime >= since]
        except OSError:
            continue
        for path in fresh:
            try:
                if path.stat().st_size > 10_000_000:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {v[:4]}..." for v in values if v.encode() in data]
    return found


def image_bytes(client, image_id: str) -> bytes:  # type: ignore[no-untyped-def]
    """The image as `docker save` writes it: every layer tarball, the config, the manifest."""
    return b"".join(client.images.get(image_id).save(chunk_size=1 << 20))


@pytest.mark.usefixtures("python_base")
def test_a_full_run_leaks_no_secret_anywhere(  # type: ignore[no-untyped-def]
    tmp_path, registry_factory, docker_client
):
    team = registry_factory(username="ci-bot")
    hub = registry_factory(username="acme")
    project = make_service_project(tmp_path / "project")
    config = write_config(
        project,
        service_config(
            unique_image("secrets"),
            build={"context": "app", "args": {"APP_MODE": "production"}},
            registries=[
                {"kind": "generic", "name": "team", "endpoint": team.address,
                 "repository": "registry.example.com/team/app"},
                {"kind": "dockerhub", "repository": "acme/app", "endpoint": hub.address},
            ],
        ),
    )  # fmt: skip
    decoys = {
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_SESSION_TOKEN": secrets.token_urlsafe(60),
        "GITHUB_TOKEN_DECOY": "ghp_" + secrets.token_hex(18),
        "NPM_TOKEN": "npm_" + secrets.token_hex(18),
    }
    values = [team.password, hub.password, *decoys.values()]
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    unrelated = base64.b64encode(b"someone:else").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"x.org": {"auth": unrelated}}})
    )
    config_before = (docker_config / "config.json").read_bytes()
    home_config = Path.home() / ".docker" / "config.json"
    home_before = home_config.read_bytes() if home_config.exists() else None
    (tmp_path / "tmp").mkdir()
    state = tmp_path / "state"
    env = {
        **decoys,
        "HOIST_STATE_DIR": str(state),
        "TMPDIR": str(tmp_path / "tmp"),
        "DOCKER_CONFIG": str(docker_config),
        "REGISTRY_USERNAME": "ci-bot",
        "REGISTRY_PASSWORD": team.password,
        "DOCKERHUB_USERNAME": "acme",
        "DOCKERHUB_TOKEN": hub.password,
    }
    started = time.time()

    watch = CommandLineWatch(values)
    try:
        result = run_invoke("ci", "--config", str(config), env=env)
    finally:
        watch.stop()

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((state / "reports" / "last.json").read_text())
    assert {p["target"]: p["error"] for p in report["pushes"]} == {"team": None, "dockerhub": None}
    assert report["pushes"][1]["copied_from"] == "team", "the skopeo fan-out path ran"
    assert watch.samples > 10 and watch.seen == [], "a secret on a command line"
    output = result.stdout + result.stderr
    assert [v[:4] for v in values if v in output] == []
    sources = [p["credentials"] for p in report["pushes"]]  # where from, never the value
    assert sources == ["REGISTRY_USERNAME/REGISTRY_PASSWORD", "DOCKERHUB_USERNAME/DOCKERHUB_TOKEN"]
    # files: reports, JUnit, lock files, temp files, the docker config dir, the registries' own
    # files (htpasswd holds bcrypt hashes); image layers are checked below, not as blob files
    assert files_containing([state, tmp_path / "tmp", docker_config], values) == []
    assert files_containing([tmp_path], values, skip=("/data/",)) == []
    assert new_tmp_files_containing(started, values) == []
    assert (docker_config / "config.json").read_bytes() == config_before
    assert (home_config.read_bytes() if home_config.exists() else None) == home_before
    # the image: layers, config (env, labels, build args in history)
    image_id = report["image_id"]
    saved = image_bytes(docker_client, image_id)
    assert [v[:4] for v in values if v.encode() in saved] == []
    history = json.dumps(docker_client.api.history(image_id))
    inspected = json.dumps(docker_client.api.inspect_image(image_id))
    assert [v[:4] for v in values if v in history + inspected] == []
    assert "APP_MODE" not in inspected or "production" in inspected  # build args are visible
    # what the registries serve
    for server, repository in ((team, "team/app"), (hub, "acme/app")):
        reader = RegistryReader(server.address, server.username, server.password)
        blob = json.dumps(reader.config(repository, "test"))
        assert [v[:4] for v in values if v in blob] == []


@pytest.mark.parametrize(
    "name", ["NPM_TOKEN", "DB_PASSWORD", "aws_secret_access_key", "API_KEY", "SIGNING_SECRET",
             "DOCKER_PASSWD", "GCP_CREDENTIALS", "github_token"],
)  # fmt: skip
def test_secret_looking_build_arg_is_refused_pointing_at_build_secrets(  # type: ignore[no-untyped-def]
    tmp_path, name
):
    project = make_service_project(tmp_path / "project")
    value = "value-" + secrets.token_hex(8)
    config = write_config(
        project,
        service_config(unique_image("secret-arg"), build={"context": "app", "args": {name: value}}),
    )

    result = run_invoke("build", "--config", str(config), env={"HOIST_STATE_DIR": str(tmp_path)})

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"hoist: error: {config}: build.args.{name}: looks like a secret")
    assert "RUN --mount=type=secret" in line and "build secrets" in line
    assert value not in result.stdout + result.stderr


def test_dockerignore_keeps_env_files_and_git_out_of_the_image(  # type: ignore[no-untyped-def]
    make_app, tmp_path, docker_client
):
    """node-app's own .dockerignore and Dockerfile, plus one line that copies the whole build
    context, so the .dockerignore is the only thing between these files and the image."""
    markers = {name: f"hoist-marker-{secrets.token_hex(6)}" for name in (
        ".env", ".env.production", "src/.env.local", ".git/config", "src/.git/HEAD")}  # fmt: skip
    dockerfile = (NODE_APP / "Dockerfile").read_text()
    assert "COPY src/ ./src/\n" in dockerfile
    dockerfile = dockerfile.replace("COPY src/ ./src/\n", "COPY src/ ./src/\nCOPY . /context/\n")
    config = make_app(files={"Dockerfile": dockerfile})
    app = config.parent / "app"
    for name, marker in markers.items():  # after make_app's commit: git keeps out of .git dirs
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(f"SECRET={marker}\n")

    result = run_invoke("build", "--config", str(config), env={"HOIST_STATE_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stdout + result.stderr
    image_id = json.loads((tmp_path / "reports" / "last.json").read_text())["image_id"]
    saved = image_bytes(docker_client, image_id)
    assert [n for n, m in markers.items() if m.encode() in saved] == []
    container = docker_client.containers.create(image_id, command=["true"])
    try:
        exported = b"".join(container.export(chunk_size=1 << 20))
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = [name.strip("/") for name in tar.getnames()]
    assert {"context/package.json", "context/src/server.js", "app/src/server.js"} <= set(names)
    leaked = [n for n in names if any(part.startswith((".env", ".git")) for part in n.split("/"))]
    assert leaked == []


SECRET_DOCKERFILE = """\
FROM hoist-offline/python:bookworm
RUN --mount=type=secret,id=token --mount=type=secret,id=npmrc echo {marker} \\
 && sha256sum /run/secrets/token /run/secrets/npmrc | cut -d' ' -f1 > /secrets.sha256 \\
 && cat /run/secrets/token | wc -c
WORKDIR /srv
COPY index.html ./
USER 1000:1000
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
"""


def test_buildkit_build_secrets_reach_the_step_and_nothing_else(  # type: ignore[no-untyped-def]
    tmp_path, docker_client
):
    """One secret from the environment, one from a file: the step gets both (their sha256
    is what it writes into the image), and neither value is anywhere else."""
    token = "tok-" + secrets.token_urlsafe(24)
    npmrc = "//registry.npmjs.org/:_authToken=npm_" + secrets.token_hex(18)
    secret_file = tmp_path / "ci-npmrc"
    secret_file.write_text(npmrc)
    # a secret's value is not part of BuildKit's cache key: a new marker makes the step run
    dockerfile = SECRET_DOCKERFILE.replace("{marker}", secrets.token_hex(8))
    project = make_service_project(tmp_path / "project", files={"Dockerfile": dockerfile})
    sources = {"token": {"env": "BUILD_TOKEN"}, "npmrc": {"file": str(secret_file)}}
    build = {"context": "app", "backend": "buildkit", "secrets": sources}
    config = write_config(project, service_config(unique_image("bk-secret"), build=build))
    (tmp_path / "tmp").mkdir()
    state = tmp_path / "state"
    env = {"HOIST_STATE_DIR": str(state), "TMPDIR": str(tmp_path / "tmp"), "BUILD_TOKEN": token}
    values = [token, npmrc, npmrc.split("=", 1)[1]]
    started = time.time()

    watch = CommandLineWatch(values)
    try:
        result = run_invoke("build", "--config", str(config), env=env)
    finally:
        watch.stop()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "building with BuildKit" in result.stdout
    image_id = json.loads((state / "reports" / "last.json").read_text())["image_id"]
    try:
        hashes = docker_client.containers.run(image_id, ["cat", "/secrets.sha256"], remove=True)
        expected = [hashlib.sha256(v.encode()).hexdigest() for v in (token, npmrc)]
        assert hashes.decode().split() == expected, "the step read both secrets"
        assert watch.samples > 10 and watch.seen == [], "a secret on a command line"
        assert [v[:4] for v in values if v in result.stdout + result.stderr] == []
        assert files_containing([state, tmp_path / "tmp", project], values) == []
        # the secret file itself is under tmp_path (pytest's dir, skipped here): nothing new
        assert new_tmp_files_containing(started, values) == []
        saved = image_bytes(docker_client, image_id)
        assert [v[:4] for v in values if v.encode() in saved] == []
        history = json.dumps(docker_client.api.history(image_id))
        inspected = json.dumps(docker_client.api.inspect_image(image_id))
        assert [v[:4] for v in values if v in history + inspected] == []
    finally:
        docker_client.images.remove(image_id, force=True)


def test_a_buildkit_step_that_prints_a_secret_fails_with_it_redacted(  # type: ignore[no-untyped-def]
    tmp_path,
):
    token = "tok-" + secrets.token_urlsafe(24)
    dockerfile = (
        "FROM hoist-offline/python:bookworm\n"
        "RUN --mount=type=secret,id=token cat /run/secrets/token && echo && exit 5\n"
    )
    project = make_service_project(tmp_path / "project", files={"Dockerfile": dockerfile})
    build = {"context": "app", "backend": "buildkit", "secrets": {"token": {"env": "BUILD_TOKEN"}}}
    config = write_config(project, service_config(unique_image("bk-secret"), build=build))
    state = tmp_path / "state"

    result = run_invoke(
        "build", "--config", str(config), env={"HOIST_STATE_DIR": str(state), "BUILD_TOKEN": token}
    )

    assert result.returncode == 1
    assert "exit code: 5; last output: ***" in result.stderr, result.stderr
    assert token not in result.stdout + result.stderr
    assert files_containing([state], [token]) == []


def test_a_build_secret_from_an_unset_variable_is_one_line(tmp_path):  # type: ignore[no-untyped-def]
    project = make_service_project(tmp_path / "project")
    build = {"context": "app", "backend": "buildkit", "secrets": {"token": {"env": "NO_SUCH_VAR"}}}
    config = write_config(project, service_config(unique_image("bk-secret"), build=build))

    result = run_invoke("build", "--config", str(config), env={"HOIST_STATE_DIR": str(tmp_path)})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "hoist: error: build: secrets.token.env: NO_SUCH_VAR is not set or empty"
    ]


def test_the_cache_registrys_password_is_in_no_argv_and_no_file_left(  # type: ignore[no-untyped-def]
    tmp_path, registry_factory, docker_client
):
    """The CLI reads and writes the cache with the registry's login from a private docker
    config: while the run lasts no command line holds it, afterwards no file does."""
    registry = registry_factory(username="cache-bot")
    project = make_service_project(tmp_path / "project")
    image = unique_image("bk-cache-secret")
    target = {"kind": "generic", "name": "team", "endpoint": registry.address,
              "repository": "registry.example.com/team/app"}  # fmt: skip
    build = {"context": "app", "backend": "buildkit", "cache": "registry"}
    config = write_config(project, service_config(image, build=build, registries=[target]))
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text('{"auths": {}}')
    (tmp_path / "tmp").mkdir()
    state = tmp_path / "state"
    env = {"HOIST_STATE_DIR": str(state), "TMPDIR": str(tmp_path / "tmp"),
           "DOCKER_CONFIG": str(docker_config), "REGISTRY_USERNAME": "cache-bot",
           "REGISTRY_PASSWORD": registry.password}  # fmt: skip
    token = base64.b64encode(f"cache-bot:{registry.password}".encode()).decode()
    values = [registry.password, token]
    started = time.time()

    watch = CommandLineWatch(values)
    try:
        first = run_invoke("smoke", "--config", str(config), env=env)  # reads, then writes
        second = run_invoke("build", "--config", str(config), env=env)  # reads what was written
    finally:
        watch.stop()
        for found in docker_client.images.list(name=image):
            docker_client.images.remove(found.id, force=True)

    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"cache: written to {registry.address}/team/app:buildcache" in first.stdout
    assert watch.samples > 10 and watch.seen == [], "a secret on a command line"
    output = first.stdout + first.stderr + second.stdout + second.stderr
    assert [v[:4] for v in values if v in output] == []
    assert files_containing([state, tmp_path / "tmp", docker_config, project], values) == []
    assert new_tmp_files_containing(started, values) == []
    assert list((tmp_path / "tmp").iterdir()) == [], "the private docker config is gone"
    assert (docker_config / "config.json").read_text() == '{"auths": {}}'
