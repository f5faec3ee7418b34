"""hoist's Invoke tasks: parse flags, call ``pipeline``, print. No pipeline logic lives here.

The same collection is ``invoke`` in a checkout and the installed ``hoist`` command:

    hoist ci                  lint -> build -> smoke -> push (the whole pipeline)
    hoist lint | build | smoke | push
    hoist base-image          offline stand-in for the Dockerfile's base image (--platform P)
    hoist merge               one image index of by-digest pushes (push --platform P --by-digest)
    hoist registry.up | registry.down
    hoist login | logout      store / remove registry credentials as docker login does
    hoist deploy | rollback | status --host ssh://user@server   run the pushed digest there
    hoist keygen | verify REF   a cosign key pair; check an image's signature and attestations
    hoist --help TASK         what a task does and its flags

Every task takes ``--config PATH`` (default: the nearest pipeline.yaml from the current
directory up, as git finds its repository), so any app directory with a Dockerfile and a
pipeline.yaml can be run through the same pipeline; its state (``.hoist/``) is kept beside that
file.
"""

from __future__ import annotations

import os
from importlib.metadata import version

from invoke import Collection, Program, task

from pipeline.cli import say, task_session

CONFIG_HELP = (
    "pipeline.yaml to use (default: the nearest one from here up); paths in it are relative to it"
)
TO_HELP = "comma-separated target names or kinds to push to (default: every configured target)"
SARIF_HELP = "also write the lint findings as SARIF 2.1.0 to PATH (for GitHub code scanning)"
JUNIT_HELP = "write the smoke check results as JUnit XML to PATH (default: .hoist/reports/)"
NO_CACHE_HELP = "run lint and smoke even when a kept verdict matches (also: HOIST_NO_CACHE=1)"
SKIP_SMOKE_HELP = "push without the smoke gate (recorded in the summary and an image label)"


def _run(  # type: ignore[no-untyped-def]
    config_path: str,
    stages: tuple[str, ...],
    to: str = "",
    skip_smoke: bool = False,
    sarif: str = "",
    junit: str = "",
    platform: str = "",
    by_digest: bool = False,
    no_cache: bool = False,
):
    """Run some stages of the pipeline and end with the summary table and the report path."""
    from pipeline.ssh_transport import leave_out_unless_used

    leave_out_unless_used(os.environ)  # before docker-py is imported: no ssh:// engine here
    from pipeline.output.github import output_for
    from pipeline.paths import state_dir
    from pipeline.project import open_project
    from pipeline.report import write_report
    from pipeline.run.options import RunOptions
    from pipeline.run.runner import Runner

    output = output_for(os.environ)
    with task_session():
        config = open_project(config_path or None, os.environ)
        options = RunOptions(
            stages=stages,
            targets=tuple(t.strip() for t in to.split(",") if t.strip()),
            skip_smoke=skip_smoke,
            sarif=sarif or None,
            junit=junit or None,
            platform=platform or None,
            by_digest=by_digest,
            reuse_verdicts=not no_cache,
        )
        runner = Runner(
            config,
            options,
            os.environ,
            output.say,  # whole lines, known secrets redacted
            on_stage=output.stage,
            on_findings=output.findings,
        )
        inputs = runner.check_inputs()  # bad input: exit 2, nothing built and no report written
        try:
            runner.run(inputs)
        finally:
            output.end_stage()
            path = write_report(runner.report, state_dir() / "reports")
            output.summary(runner.report, path)


@task(help={"config": CONFIG_HELP, "sarif": SARIF_HELP, "no-cache": NO_CACHE_HELP})
def lint(c, config="", sarif="", no_cache=False):  # type: ignore[no-untyped-def]
    """Lint the Dockerfile (hadolint), the app (eslint), Python (ruff) and GitHub workflows
    (zizmor, workflow schema); one findings list, optionally as SARIF."""
    _run(config, ("lint",), sarif=sarif, no_cache=no_cache)


@task(help={"config": CONFIG_HELP})
def build(c, config=""):  # type: ignore[no-untyped-def]
    """Build the image with its tags and OCI labels; prints image id and size."""
    _run(config, ("build",))


@task(help={"config": CONFIG_HELP, "junit": JUNIT_HELP, "no-cache": NO_CACHE_HELP})
def smoke(c, config="", junit="", no_cache=False):  # type: ignore[no-untyped-def]
    """Build, then check the image: policy, structure tests, the running service on 127.0.0.1."""
    _run(config, ("build", "smoke"), junit=junit, no_cache=no_cache)


PUSH_HELP = {
    "config": CONFIG_HELP, "to": TO_HELP, "skip-smoke": SKIP_SMOKE_HELP, "no-cache": NO_CACHE_HELP
}  # fmt: skip


@task(
    help={
        **PUSH_HELP,
        "platform": "build, test and push only this one of build.platforms (a matrix job)",
        "by-digest": "push each platform's image by digest, tag nothing (then: invoke merge)",
    }
)
def push(c, config="", to="", skip_smoke=False, no_cache=False, platform="", by_digest=False):  # type: ignore[no-untyped-def]
    """Push to the configured registries — only after lint, build and smoke pass in this run."""
    _run(config, ("lint", "build", "smoke", "push"), to=to, skip_smoke=skip_smoke,
         no_cache=no_cache, platform=platform, by_digest=by_digest)  # fmt: skip


@task(
    iterable=["digest", "report"],
    help={
        "config": CONFIG_HELP,
        "to": TO_HELP,
        "digest": "sha256:... a by-digest push made (repeat; default: every one the reports name)",
        "report": "the run reports of those pushes: files or directories (default: .hoist/reports)",
    },
)
def merge(c, config="", to="", digest=None, report=None):  # type: ignore[no-untyped-def]
    """Put one image index of by-digest pushes under their tags, each checked: gates, platform."""
    from pipeline.platforms.merge_task import run_merge
    from pipeline.project import open_project

    with task_session():
        cfg = open_project(config or None, os.environ)
        run_merge(cfg, digest or [], report or [], to, os.environ)


@task(help={**PUSH_HELP, "sarif": SARIF_HELP, "junit": JUNIT_HELP})
def ci(c, config="", to="", skip_smoke=False, sarif="", junit="", no_cache=False):  # type: ignore[no-untyped-def]
    """The whole pipeline: lint -> build -> smoke -> push, stopping at the first failure."""
    stages = ("lint", "build", "smoke", "push")
    _run(config, stages, to=to, skip_smoke=skip_smoke, sarif=sarif, junit=junit, no_cache=no_cache)


@task(
    name="base-image",
    help={
        "config": CONFIG_HELP,
        "force": "rebuild the stand-in even if it exists",
        "platform": "for this platform (e.g. linux/arm64; needs qemu: make setup)",
    },
)
def base_image(c, config="", force=False, platform=""):  # type: ignore[no-untyped-def]
    """Build an offline stand-in for the Dockerfile's base image when it cannot be pulled."""
    from pipeline.build.base_image import ensure_stand_in
    from pipeline.engine import docker_client
    from pipeline.project import open_project

    with task_session():
        cfg = open_project(config or None, os.environ)
        ensure_stand_in(docker_client(), cfg.build, platform, force, say)


@task(
    iterable=["image", "tag", "flavor"],
    help={
        "config": CONFIG_HELP,
        "json": 'print {"version", "tags" (full references), "labels"} as JSON',
        "image": "image to tag, as metadata-action's images input: IMAGE, IMAGE,enable=false "
        "or name=IMAGE,enable=true (repeatable; replaces the configured names)",
        "tag": "a metadata-action tag rule, e.g. type=semver,pattern={{version}} (repeatable)",
        "flavor": "a metadata-action flavor line, e.g. latest=false (repeatable)",
    },
)
def tags(c, config="", json=False, image=None, tag=None, flavor=None):  # type: ignore[no-untyped-def]
    """Show the version, tags and OCI labels this repository state gets (metadata-action rules).

    GITHUB_* variables are honoured when set, also outside Actions, to replay a CI context.
    """
    from pipeline.output.tags_view import render_tags
    from pipeline.project import open_project

    with task_session():
        cfg = open_project(config or None, os.environ)
        say(render_tags(cfg, os.environ, image or (), tag or (), flavor or (), json))


@task(
    help={
        "bump": "patch, minor or major: the next version after the last vX.Y.Z tag",
        "version": "an explicit version X.Y.Z (instead of --bump)",
        "force": "release from a branch other than the default one",
        "dry-run": "show what would be tagged and pushed, change nothing",
        "remote": "the remote to push the tag to (default: origin)",
    }
)
def release(c, bump=None, version=None, force=False, dry_run=False, remote="origin"):  # type: ignore[no-untyped-def]
    """Tag vX.Y.Z on the default branch and push the tag (starts the release workflow)."""
    from pipeline.release import cut_release, plan_release

    with task_session():
        plan = plan_release(".", bump=bump, version=version, force=force, remote=remote)
        say(plan.describe())
        if dry_run:
            say("dry run: nothing created")
            return
        tag = cut_release(plan)
        say(f"pushed {tag} to {remote}")


@task(name="up")
def registry_up(c):  # type: ignore[no-untyped-def]
    """Start the embedded registry (CNCF distribution, htpasswd auth) on 127.0.0.1."""
    from pipeline.push.registry_server import ensure_embedded_registry

    with task_session():
        server = ensure_embedded_registry()
        say(f"embedded registry: {server.address} (pid {server.pid}, user {server.username})")


@task(name="down")
def registry_down(c):  # type: ignore[no-untyped-def]
    """Stop the embedded registry; its stored images stay for the next `registry.up`."""
    from pipeline.push.registry_server import stop_embedded_registry

    with task_session():
        stopped = stop_embedded_registry()
        say(f"stopped registry pid {stopped.pid}" if stopped else "embedded registry was not up")


LOGIN_TO_HELP = "comma-separated target names or kinds (default: every configured target)"


def _login_targets(config: str, to: str):  # type: ignore[no-untyped-def]
    from pipeline.project import open_project
    from pipeline.push.registries.kinds import select_targets

    cfg = open_project(config or None, os.environ)
    wanted = tuple(t.strip() for t in to.split(",") if t.strip())
    return select_targets(cfg.registries, wanted, cfg.image, os.environ, cfg.path.name)


@task(help={"config": CONFIG_HELP, "to": LOGIN_TO_HELP})
def login(c, config="", to=""):  # type: ignore[no-untyped-def]
    """Check each target's credentials with its registry, then store them like `docker login`."""
    from invoke.exceptions import Exit

    from pipeline.cli import fail
    from pipeline.engine import docker_client
    from pipeline.push import login as registry_login

    with task_session():
        results = registry_login.login(docker_client(), _login_targets(config, to), os.environ)
        for r in results:
            if r.error:
                fail(r.error)
            else:
                say(f"{r.target}: logged in to {r.server} as {r.username} ({r.stored_in})")
        if any(r.error for r in results):
            raise Exit(code=1)


@task(help={"config": CONFIG_HELP, "to": LOGIN_TO_HELP})
def logout(c, config="", to=""):  # type: ignore[no-untyped-def]
    """Remove the stored docker credentials of each target's registry, as `docker logout` does."""
    from pipeline.push import login as registry_login

    with task_session():
        for r in registry_login.logout(_login_targets(config, to), os.environ):
            removed = f"removed from {r.stored_in}" if r.stored_in else "nothing stored"
            say(f"{r.target}: {r.server}: {removed}")


DEPLOY_HELP = {
    "config": CONFIG_HELP,
    "host": "the server's engine: ssh://user@server, tcp://server:2376 (TLS from "
    "DOCKER_CERT_PATH) or unix:///path (default: deploy.ENV.host in pipeline.yaml)",
    "env": "environment under deploy: in pipeline.yaml (default: the only one)",
}


@task(
    help={**DEPLOY_HELP, "digest": "sha256:... to deploy (default: what the last run pushed)"},
    auto_shortflags=False,
)
def deploy(c, host="", env="", digest="", config=""):  # type: ignore[no-untyped-def]
    """Run the pushed digest: on a server (prove, switch, keep the old one) or a swarm (rolling)."""
    from pipeline.deploy.stage import render_deploy, run_deploy
    from pipeline.project import open_project

    with task_session():
        deployment = open_project(config or None, os.environ).deployment(env or None)
        result = run_deploy(
            deployment, host=host or None, digest=digest or None, environ=os.environ, log=say
        )
        say(render_deploy(result))


@task(help=DEPLOY_HELP, auto_shortflags=False)
def rollback(c, host="", env="", config=""):  # type: ignore[no-untyped-def]
    """Back one step: NAME-previous on a server, the previous spec on a swarm (checked/watched)."""
    from pipeline.deploy.stage import run_rollback
    from pipeline.project import open_project

    with task_session():
        deployment = open_project(config or None, os.environ).deployment(env or None)
        run_rollback(deployment, host=host or None, environ=os.environ, log=say)


@task(help=DEPLOY_HELP, auto_shortflags=False)
def status(c, host="", env="", config=""):  # type: ignore[no-untyped-def]
    """What runs on the server: digest, revision, since when, health (exit 1 if not healthy)."""
    from invoke.exceptions import Exit

    from pipeline.deploy.stage import run_status
    from pipeline.project import open_project

    with task_session():
        deployment = open_project(config or None, os.environ).deployment(env or None)
        text, healthy = run_status(deployment, host=host or None, environ=os.environ)
        say(text)
    if not healthy:
        raise Exit(code=1)


registry = Collection("registry")
registry.add_task(registry_up)
registry.add_task(registry_down)

ns = Collection(
    lint, build, smoke, push, merge, ci, tags, release, base_image, login, logout, registry
)
ns.add_task(deploy)
ns.add_task(rollback)
ns.add_task(status)


@task(
    help={
        "dir": "directory to write the pair to (default: the current one)",
        "prefix": "file names PREFIX.key and PREFIX.pub (default: cosign)",
    }
)
def keygen(c, dir=".", prefix="cosign"):  # type: ignore[no-untyped-def]
    """Write a signing key pair in cosign's format (password: COSIGN_PASSWORD or a prompt)."""
    from pathlib import Path

    from pipeline.attest.keyfiles import keygen_password, write_key_pair

    with task_session():
        private, public = write_key_pair(Path(dir), prefix, keygen_password(os.environ))
        say(f"private key: {private} (encrypted; keep it, and its password, secret)")
        say(f"public key:  {public} (signing.public_key: what verify and deploy check)")


@task(
    help={
        "key": "public key to verify with: a file or env://VAR (default: signing.public_key)",
        "attestations": "comma-separated: sbom, provenance, gate, or none "
        "(default: signing.attestations, else all three)",
        "config": CONFIG_HELP + "; its targets lend their credentials",
    },
    auto_shortflags=False,
)
def verify(c, ref, key="", attestations="", config="pipeline.yaml"):  # type: ignore[no-untyped-def]
    """Check an image's signature and attestations (REF = HOST/PATH[:TAG][@sha256:...])."""
    from pathlib import Path

    from pipeline.attest.check import lending_targets, run_verify
    from pipeline.project import load_config

    with task_session():
        cfg = load_config(config) if Path(config).exists() else None
        targets = lending_targets(cfg.registries, cfg.image, os.environ) if cfg else []
        signing = cfg.signing if cfg else None
        subject = run_verify(ref, key, attestations, signing, targets, os.environ, say)
        say(f"verified: {subject}")


ns.add_task(keygen)
ns.add_task(verify)

# The installed `hoist` command (pyproject.toml's console script): invoke's own Program, so
# flags, help, output and exit codes are those of `invoke TASK` in a checkout.
program = Program(namespace=ns, name="hoist", binary="hoist", version=version("hoist"))
