"""Bad input through the real CLI: every malformed input is refused the same way.

Each case runs ``invoke`` as a user would and must end with exit code 2, exactly one line on
stderr (``hoist: error: ...`` naming the file or flag and the field), no traceback, nothing on
stdout (no stage started) — and no partial state: no image, no run report, no embedded
registry started, nothing pushed. The library-level messages of pipeline.yaml are unit-tested
in tests/unit/test_config.py; this table is about what reaches the user through the tasks,
including inputs only a run can check (the build context, ``--to``, targets, environment).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import _git_init, run_invoke

pytestmark = pytest.mark.integration

IMAGE = f"hoist-test/bad-input-{secrets.token_hex(3)}"
GOOD = f"image: {IMAGE}\nbuild: {{context: app}}\nlint: {{ruff: []}}\n"
DOCKERFILE = (
    "FROM hoist-offline/python:bookworm\n"
    "COPY index.html /srv/\n"
    "USER 1000\n"
    'CMD ["python3", "-m", "http.server", "8000", "--directory", "/srv"]\n'
)
PWNED = "pwned-by-yaml"  # a file a YAML python/object tag would create if it were honoured


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    previous = "a"
    for level in range(9):
        lines.append(f"b{level}: &b{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = f"b{level}"
    return GOOD + "\n".join(lines) + "\n"


def _with(extra: str) -> str:
    return GOOD + extra


def _registry(entry: str) -> str:
    return GOOD + f"registries: [{entry}]\n"


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]  # the task and its flags; --config follows
    config: str | bytes | None  # the pipeline.yaml to use (None: GOOD)
    expected: str  # in the one error line
    env: dict[str, str] = field(default_factory=dict)


def _build(text: str) -> str:
    return f"image: {IMAGE}\nbuild: {text}\n"


CASES = [
    # --- YAML itself
    Case("yaml-unclosed-flow", ["build"], "image: [unclosed\n",
         "invalid YAML: expected ',' or ']'"),
    Case("yaml-bad-indent", ["build"], "image: a\n  build: b\n", "line 2, column 8: invalid YAML"),
    Case("yaml-tab-indent", ["build"], "build:\n\tcontext: app\n",
         "invalid YAML: found character '\\t'"),
    Case("yaml-empty", ["build"], "", "file is empty"),
    Case("yaml-only-comments", ["build"], "# nothing here\n", "file is empty"),
    Case("yaml-top-level-list", ["build"], "- image\n- build\n",
         "(top level): expected a mapping, got a list"),
    Case("yaml-top-level-scalar", ["build"], "just words\n",
         "(top level): expected a mapping, got a string"),
    Case("yaml-duplicate-key", ["build"], _with("smoke: {port: 1}\nsmoke: {port: 2}\n"),
         "line 5, column 1: duplicate key 'smoke'"),
    Case("yaml-huge", ["build"], GOOD + "#" * 300_000 + "\n", "over 262144"),
    Case("yaml-alias-bomb", ["build"], _alias_bomb(), "YAML aliases, over 64 (alias bomb refused)"),
    Case("yaml-nested-too-deep", ["build"], _with("x: " + "[" * 1500 + "]" * 1500 + "\n"),
         "invalid YAML: nested too deeply"),
    Case("yaml-python-tag", ["build"],
         _with(f'x: !!python/object/apply:os.system ["touch {PWNED}"]\n'),
         "could not determine a constructor"),
    Case("yaml-not-utf8", ["build"], GOOD.encode() + b"# caf\xe9\n", "not UTF-8 text"),
    # --- keys and types
    Case("unknown-top-key", ["build"], _with("buidl: {}\n"), "buidl: unknown key"),
    Case("unknown-nested-key", ["build"], _with("smoke: {prot: 80}\n"), "smoke.prot: unknown key"),
    Case("image-missing", ["build"], "build: {context: app}\n", "image: is required"),
    Case("image-a-list", ["build"], "image: [a, b]\nbuild: {context: app}\n",
         "image: expected a string, got a list"),
    Case("image-upper-case", ["build"], "image: Team/App\nbuild: {context: app}\n",
         "image: 'Team/App' is not a valid image name"),
    Case("image-with-tag", ["build"], "image: team/app:1.0\nbuild: {context: app}\n",
         "must be a name without a tag or digest"),
    Case("image-with-digest", ["build"], f"image: team/app@sha256:{'0' * 64}\n",
         "must be a name without a tag or digest"),
    Case("image-with-space", ["build"], "image: my app\nbuild: {context: app}\n",
         "image: 'my app' is not a valid image name"),
    Case("build-a-string", ["build"], _build("app"), "build: expected a mapping, got a string"),
    Case("build-args-a-list", ["build"], _build("{context: app, args: [A]}"),
         "build.args: expected a mapping"),
    Case("smoke-port-word", ["smoke"], _with("smoke: {port: web}\n"),
         "smoke.port: expected an integer, got a string ('web')"),
    Case("smoke-port-range", ["smoke"], _with("smoke: {port: 70000}\n"),
         "smoke.port: must be between 1 and 65535"),
    Case("smoke-timeout-bool", ["smoke"], _with("smoke: {timeout: yes}\n"),
         "smoke.timeout: expected a number of seconds, got a boolean"),
    Case("smoke-path-relative", ["smoke"], _with("smoke: {path: healthz}\n"),
         "smoke.path: 'healthz' must start with /"),
    Case("smoke-body-regex", ["smoke"], _with("smoke: {expect_body: '(unclosed'}\n"),
         "smoke.expect_body: invalid regular expression"),
    Case("lint-threshold", ["lint"], _build("{context: app}") + "lint: {failure_threshold: loud}\n",
         "lint.failure_threshold: 'loud' is not one of"),
    # --- registries and --to
    Case("registry-unknown-kind", ["push"], _registry("{kind: dockerhubb}"),
         "registries[0].kind: unknown registry kind 'dockerhubb'"),
    Case("registries-a-mapping", ["push"], _with("registries: {kind: local}\n"),
         "registries: expected a non-empty list"),
    Case("registries-empty", ["push"], _with("registries: []\n"),
         "registries: expected a non-empty list"),
    Case("registry-duplicate-name", ["push"], _registry("{kind: local}, {kind: local}"),
         "registries[1].name: duplicate target name 'local'"),
    Case("registry-repo-with-tag", ["push"],
         _registry("{kind: generic, repository: 'registry.example.com/team/app:v1'}"),
         "registries[generic].repository: 'registry.example.com/team/app:v1' must not carry"),
    Case("registry-repo-upper-case", ["push"],
         _registry("{kind: generic, repository: registry.example.com/Team/App}"),
         "repository names must be lower case"),
    Case("registry-repo-missing", ["ci"], _registry("{kind: generic}"),
         "registries[generic].repository: is required for kind generic"),
    Case("registry-unknown-option", ["push"],
         _registry("{kind: generic, repository: r.example.com/a/b, options: {colour: red}}"),
         "registries[generic].options.colour: unknown option"),
    Case("registry-bad-endpoint", ["push"],
         _registry("{kind: generic, repository: r.example.com/a/b, endpoint: 'bad host!'}"),
         "registries[generic].endpoint: 'bad host!' is not HOST[:PORT]"),
    Case("registry-local-with-host", ["push"],
         _registry("{kind: local, repository: r.example.com/a/b}"),
         "the local registry takes a path without a host"),
    Case("registry-ghcr-elsewhere", ["push"],
         _registry("{kind: ghcr, repository: quay.io/acme/app}"), "is on quay.io, not ghcr.io"),
    Case("to-unknown-target", ["push", "--to", "nope"], None, "--to nope: no such target in"),
    Case("to-kind-not-configured", ["ci", "--to", "local,ghcr"], None,
         "--to ghcr: no such target in"),
    # --- tag rules, flavor lines, image names
    Case("tag-rule-unknown-type", ["build"], _with("metadata: {tags: [type=bogus]}\n"),
         "metadata.tags: 'type=bogus': unknown tag type 'bogus'"),
    Case("tag-rule-unclosed-template", ["build"],
         _with("metadata: {tags: ['type=raw,value={{version']}\n"), "unclosed {{"),
    Case("tag-rule-unknown-attribute", ["build"],
         _with("metadata: {tags: ['type=sha,colour=red']}\n"),
         "unknown attribute 'colour' for type=sha"),
    Case("tag-rules-a-mapping", ["build"], _with("metadata: {tags: {a: b}}\n"),
         "metadata.tags: expected a list of strings"),
    Case("flavor-bad-latest", ["build"], _with("metadata: {flavor: [latest=maybe]}\n"),
         "metadata.flavor: 'latest=maybe': latest must be auto, true or false"),
    Case("flavor-no-value", ["build"], _with("metadata: {flavor: [prefix]}\n"),
         "metadata.flavor: 'prefix': expected key=value"),
    Case("cli-tag-rule", ["tags", "--tag", "type=semver"], None,
         "type=semver needs a pattern= attribute"),
    Case("cli-flavor", ["tags", "--flavor", "onlatest=sometimes"], None,
         "onlatest must be true or false"),
    Case("cli-image-with-tag", ["tags", "--image", "ghcr.io/acme/app:1.0"], None,
         "must be an image name without a tag or digest"),
    Case("cli-image-invalid", ["tags", "--image", "my app"], None,
         "'my app': is not a valid image name"),
    Case("env-short-sha-length", ["build"], None,
         "DOCKER_METADATA_SHORT_SHA_LENGTH: 'abc' is not a number",
         env={"DOCKER_METADATA_SHORT_SHA_LENGTH": "abc"}),
    # --- paths, the build context, its files
    Case("dockerfile-outside-context", ["build"],
         _build("{context: app, dockerfile: ../Dockerfile.outside}"),
         "build.dockerfile: ../Dockerfile.outside is outside the build context app"),
    Case("dockerfile-absolute", ["build"], _build("{context: app, dockerfile: /etc/passwd}"),
         "build.dockerfile: /etc/passwd is outside the build context"),
    Case("dockerfile-missing", ["build"], _build("{context: app, dockerfile: Nope.Dockerfile}"),
         "build.dockerfile: Nope.Dockerfile not found in app"),
    Case("dockerfile-not-utf8", ["build"], _build("{context: app-latin1}"),
         "build.dockerfile: Dockerfile is not UTF-8 text"),
    Case("context-missing", ["build"], _build("{context: nowhere}"),
         "build.context: directory nowhere not found"),
    Case("context-is-a-file", ["build"], _build("{context: app/index.html}"),
         "build.context: directory app/index.html not found"),
    Case("context-symlink-escapes", ["ci"], _build("{context: app-link}"),
         "app-link: leak.txt: is a symlink pointing outside the build context"),
    Case("build-arg-secret-name", ["build"], _build("{context: app, args: {NPM_TOKEN: x}}"),
         "build.args.NPM_TOKEN: looks like a secret"),
]  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input")
    app = root / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(DOCKERFILE)
    (app / "index.html").write_text("<h1>ok</h1>\n")
    (root / "Dockerfile.outside").write_text(DOCKERFILE)
    latin1 = root / "app-latin1"
    shutil.copytree(app, latin1)
    (latin1 / "Dockerfile").write_bytes(DOCKERFILE.encode() + b"# Ma\xeetre d'h\xf4tel\n")
    linked = root / "app-link"
    shutil.copytree(app, linked)
    (root / "outside-secret.txt").write_text("not for the image\n")
    (linked / "leak.txt").symlink_to(root / "outside-secret.txt")
    (root / "empty-dir").mkdir()
    _git_init(root)
    return root


@dataclass(frozen=True)
class Outcome:
    result: subprocess.CompletedProcess[str]
    config: Path
    state: Path


@pytest.fixture(scope="module")
def outcomes(
    project: Path, tmp_path_factory: pytest.TempPathFactory, python_base: str
) -> dict[str, Outcome]:
    """Every case run through the real CLI, a few at a time (each is a separate process).

    The Dockerfile's base exists (``python_base``), so a case that wrongly got past the checks
    would build an image, and ``test_no_image_was_built_by_any_bad_input`` could see it."""
    (project / "pipeline.yaml").write_text(GOOD)

    def run(case: Case) -> Outcome:
        config_path = project / "pipeline.yaml"
        if case.config is not None:
            config_path = project / f"{case.name}.yaml"
            if isinstance(case.config, bytes):
                config_path.write_bytes(case.config)
            else:
                config_path.write_text(case.config)
        state = tmp_path_factory.mktemp(case.name) / "state"
        env = {"HOIST_STATE_DIR": str(state), **case.env}
        result = run_invoke(*case.args, "--config", str(config_path), env=env, cwd=project)
        return Outcome(result, config_path, state)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([c.name for c in CASES], pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_one_line_and_exit_2(
    outcomes: dict[str, Outcome], project: Path, case: Case
) -> None:
    outcome = outcomes[case.name]
    result = outcome.result

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "", "no stage may start on bad input"
    [line] = result.stderr.splitlines()
    assert line.startswith("hoist: error: ")
    assert case.expected in line
    assert "Traceback" not in result.stderr
    if case.args[0] != "tags" and not case.env:
        assert outcome.config.name in line or "app-link" in line, "the message names the file"
    # no partial state: no report, no embedded registry, nothing the YAML asked to run
    assert not outcome.state.exists(), sorted(str(p) for p in outcome.state.rglob("*"))
    assert not (project / PWNED).exists()


def test_no_image_was_built_by_any_bad_input(outcomes, docker_client) -> None:  # type: ignore[no-untyped-def]
    assert len(outcomes) == len(CASES)
    assert docker_client.images.list(name=IMAGE) == []
    assert docker_client.containers.list(all=True, filters={"ancestor": IMAGE}) == []


def test_missing_config_and_directory_without_one(project: Path, tmp_path: Path) -> None:
    env = {"HOIST_STATE_DIR": str(tmp_path / "state")}
    for path, expected in [
        (project / "no-such.yaml", "no-such.yaml: file not found (pass --config"),
        (project / "empty-dir", "empty-dir/pipeline.yaml: file not found"),
    ]:
        result = run_invoke("ci", "--config", str(path), env=env, cwd=project)
        assert result.returncode == 2
        [line] = result.stderr.splitlines()
        assert line.startswith("hoist: error: ") and expected in line
    assert not (tmp_path / "state").exists()


def test_the_table_is_at_least_thirty_inputs() -> None:
    assert len(CASES) + 2 >= 30
    assert len({case.name for case in CASES}) == len(CASES)
