"""Run a ``StructureSuite`` against a built image with the Docker SDK, the way
container-structure-test's docker driver does — and remove everything it creates.

* metadata tests read the image config (one result per assertion, so a report says *which*
  label is missing, not just "metadata failed");
* file tests read paths from one created-but-never-started container (``container_fs``);
* every command test runs in a fresh container of the image with the entrypoint overridden,
  after its ``setup`` commands ran and were committed one by one, as container-structure-test
  does. ``teardown`` is accepted and, like there, not run: the test's container is discarded.
  Command tests share nothing, so they run side by side (results keep the suite's order).

``$VAR`` and ``${VAR}`` in commands, args, env values and paths are replaced from the image's
environment plus ``globalEnvVars``. Unlike container-structure-test, a variable the image does
not define is left as written (so ``sh -c 'x=1; echo $x'`` works) instead of becoming empty.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.result import Log
from pipeline.smoke.container_fs import (
    ContainerPathError,
    go_mode_string,
    ls_mode_string,
    read_file,
)
from pipeline.smoke.container_fs import stat as stat_path
from pipeline.smoke.structure_suite import (
    CommandTest,
    EnvVar,
    FileContentTest,
    FileExistenceTest,
    MetadataTest,
    StructureSuite,
)
from pipeline.smoke.verdicts import CheckFailed, CheckResult, CheckSkipped, clip, run_check

if TYPE_CHECKING:
    import docker

COMMAND_TIMEOUT = 120.0  # container-structure-test has none; a hung command must not hang CI
COMMAND_WORKERS = 4  # command tests at once: each is mostly waiting on the engine
KIND = "structure"
_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_EXEC_BITS = {"owner": 0o100, "group": 0o010, "other": 0o001, "any": 0o111}


def expand(text: str, env: Mapping[str, str]) -> str:
    return _VAR_RE.sub(lambda m: env.get(m[1] or m[2], m[0]), text)


@dataclass(frozen=True)
class ImageConfig:
    """The parts of ``docker image inspect``'s Config that metadata tests compare."""

    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    workdir: str
    user: str
    exposed_ports: list[str]
    volumes: list[str]
    labels: dict[str, str]

    @classmethod
    def of(cls, attrs: Mapping[str, Any]) -> ImageConfig:
        config = attrs.get("Config") or {}
        env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        return cls(
            env=env,
            entrypoint=list(config.get("Entrypoint") or []),
            cmd=list(config.get("Cmd") or []),
            workdir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
            exposed_ports=sorted(config.get("ExposedPorts") or {}),
            volumes=sorted(config.get("Volumes") or {}),
            labels=dict(config.get("Labels") or {}),
        )


class StructureRunner:
    def __init__(
        self,
        client: docker.DockerClient,
        image_id: str,
        suite: StructureSuite,
        labels: dict[str, str],
        log: Log,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.image_id = image_id
        self.suite = suite
        self.labels = {**labels, "io.hoist.role": "structure"}
        self.log = log
        self.stop = stop or threading.Event()  # set: the checks not yet started are skipped
        self.config = ImageConfig.of(client.images.get(image_id).attrs)
        self.global_env = {v.key: expand(v.value, self.config.env) for v in suite.global_env}
        self.env = {**self.config.env, **self.global_env}

    def run(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        if self.suite.metadata is not None:
            results += self._metadata(self.suite.metadata)
        if self.suite.file_existence_tests or self.suite.file_content_tests:
            with self._inspection_container() as cid:
                for exists in self.suite.file_existence_tests:
                    check = functools.partial(self._existence, cid, exists)
                    results.append(self._check(f"file exists {exists.name!r}", check))
                for content in self.suite.file_content_tests:
                    check = functools.partial(self._content, cid, content)
                    results.append(self._check(f"file content {content.name!r}", check))
        commands = [
            (f"command {command.name!r}", functools.partial(self._command, command))
            for command in self.suite.command_tests
        ]
        if len(commands) > 1:
            from concurrent.futures import ThreadPoolExecutor

            workers = min(len(commands), COMMAND_WORKERS)
            with ThreadPoolExecutor(workers, thread_name_prefix="hoist-structure") as pool:
                futures = [pool.submit(self._check, name, check) for name, check in commands]
                results += [future.result() for future in futures]
        else:
            results += [self._check(name, check) for name, check in commands]
        if self.suite.license_tests:
            reason = "licence tests check Google's allow-list; hoist does not run them"
            results.append(self._check("licenseTests", functools.partial(_skip, reason)))
        return results

    def _check(self, name: str, check: Callable[[], str | None]) -> CheckResult:
        if self.stop.is_set():
            check = functools.partial(_skip, "not run: the smoke stage was interrupted")
        result = run_check(KIND, name, check)
        if self.stop.is_set() and not result.passed:  # its container was removed under it
            return run_check(KIND, name, functools.partial(_skip, "interrupted"))
        self.log(result.line())
        return result

    # --- metadata ----------------------------------------------------------------------------

    def _metadata(self, test: MetadataTest) -> list[CheckResult]:
        config = self.config
        checks: list[tuple[str, Callable[[], str | None]]] = []

        def add(name: str, compare: Callable[..., None], *args: Any) -> None:
            checks.append((f"metadata {name}", functools.partial(compare, *args)))

        for env in test.env_vars:
            add(f"env {env.key}", _pair, env, config.env, "env var")
        for key in test.unbound_env_vars:
            add(f"env {key} unset", _absent, key, config.env, "env variable")
        for label in test.labels:
            add(f"label {label.key}", _pair, label, config.labels, "label")
        if test.entrypoint is not None:
            add("entrypoint", _same, "entrypoint", test.entrypoint, config.entrypoint)
        if test.cmd is not None:
            add("cmd", _same, "cmd", test.cmd, config.cmd)
        if test.workdir is not None:
            add("workdir", _equal, "workdir", test.workdir, config.workdir)
        if test.user is not None:
            add("user", _equal, "user", test.user, config.user)
        for port in test.exposed_ports:
            add(f"port {port} exposed", _port, port, config.exposed_ports, True)
        for port in test.unexposed_ports:
            add(f"port {port} not exposed", _port, port, config.exposed_ports, False)
        for volume in test.volumes:
            add(f"volume {volume}", _member, "volume", volume, config.volumes, True)
        for volume in test.unmounted_volumes:
            add(f"volume {volume} absent", _member, "volume", volume, config.volumes, False)
        return [self._check(name, check) for name, check in checks]

    # --- files -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _inspection_container(self) -> Iterator[str]:
        container = self.client.containers.create(
            self.image_id,
            command=["hoist-structure-test-not-run"],
            entrypoint=[""],
            labels=self.labels,
        )
        try:
            yield str(container.id)
        finally:
            container.remove(force=True)

    def _existence(self, container_id: str, test: FileExistenceTest) -> str | None:
        path = expand(test.path, self.env)
        try:
            info = stat_path(self.client, container_id, path)
        except ContainerPathError as exc:
            raise CheckFailed(f"cannot examine {path}: {exc}") from None
        if info is None:
            if test.should_exist:
                raise CheckFailed(f"{path} should exist but does not", "exists", "not found")
            return None
        if not test.should_exist:
            raise CheckFailed(f"{path} should not exist but does", "not found", "exists")
        problems, expected, got = [], [], []
        actual = go_mode_string(info.mode)
        if test.permissions and test.permissions not in (actual, ls_mode_string(info.mode)):
            problems.append(f"permissions {actual}, expected {test.permissions}")
            expected.append(f"permissions {test.permissions}")
            got.append(f"permissions {actual} ({ls_mode_string(info.mode)})")
        if test.is_executable_by and not info.mode & _EXEC_BITS[test.is_executable_by]:
            problems.append(f"not executable by {test.is_executable_by} ({actual})")
            expected.append(f"executable by {test.is_executable_by}")
            got.append(actual)
        for label, want, have in (("uid", test.uid, info.uid), ("gid", test.gid, info.gid)):
            if want is not None and want != have:
                problems.append(f"{label} {have}, expected {want}")
                expected.append(f"{label} {want}")
                got.append(f"{label} {have}")
        if problems:
            raise CheckFailed(
                f"{path}: " + "; ".join(problems), ", ".join(expected), ", ".join(got)
            )
        return None

    def _content(self, container_id: str, test: FileContentTest) -> str | None:
        path = expand(test.path, self.env)
        try:
            data = read_file(self.client, container_id, path)
        except ContainerPathError as exc:
            raise CheckFailed(f"cannot read {path}: {exc}") from None
        if data is None:
            raise CheckFailed(f"{path} does not exist", "a file", "not found")
        text = data.decode("utf-8", errors="replace")
        _raise_all(_mismatches(test.expected_contents, test.excluded_contents, text, "content"))
        return None

    # --- commands ----------------------------------------------------------------------------

    def _command(self, test: CommandTest) -> str | None:
        env = {**self.global_env, **self._run_option_env()}
        env.update({v.key: expand(v.value, {**self.env, **env}) for v in test.env_vars})
        argv = [expand(part, {**self.env, **env}) for part in (test.command, *test.args)]
        images: list[str] = []
        try:
            image = self.image_id
            for step in test.setup:
                setup = [expand(part, self.env) for part in step]
                code, out, err, image = self._run(image, setup, env, commit=True)
                images.append(image)
                if code != 0:
                    raise CheckFailed(
                        f"setup {' '.join(step)!r} exited with code {code}",
                        "exit code 0",
                        f"exit code {code}\nstdout: {out}\nstderr: {err}",
                    )
            code, out, err, _ = self._run(image, argv, env, commit=False)
        finally:
            for committed in reversed(images):
                with contextlib.suppress(Exception):
                    self.client.images.remove(committed, force=True, noprune=False)
        problems = _mismatches(test.expected_output, test.excluded_output, out, "output")
        problems += _mismatches(test.expected_error, test.excluded_error, err, "error output")
        if code != test.exit_code:
            problems.append(
                (
                    f"exited with code {code}, expected {test.exit_code}",
                    f"exit code {test.exit_code}",
                    f"exit code {code}; stderr: {clip(err.strip(), 300)}",
                )
            )
        _raise_all(problems)
        return None

    def _run_option_env(self) -> dict[str, str]:
        options, env = self.suite.run_options, {}
        if options.env_file:
            for line in options.env_file.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.removeprefix("export ").split("=", 1)
                    env[key.strip()] = value.strip().strip("'\"")
        env.update({name: os.environ[name] for name in options.env_vars if os.environ.get(name)})
        return env

    def _run(
        self, image: str, argv: list[str], env: dict[str, str], *, commit: bool
    ) -> tuple[int, str, str, str]:
        """Run ``argv`` in a new container of ``image``; exit code, stdout, stderr, image."""
        import requests

        options = self.suite.run_options
        container = self.client.containers.create(
            image,
            command=argv,
            entrypoint=[""],
            environment=env,
            labels=self.labels,
            user=options.user,
            privileged=options.privileged,
            tty=options.tty,
            cap_add=list(options.capabilities) or None,
            volumes=list(options.bind_mounts) or None,
        )
        try:
            container.start()
            try:
                code = int(container.wait(timeout=COMMAND_TIMEOUT)["StatusCode"])
            except requests.exceptions.RequestException:
                raise CheckFailed(
                    f"{' '.join(argv)!r} did not finish within {COMMAND_TIMEOUT:.0f} s"
                ) from None
            out = container.logs(stdout=True, stderr=False).decode("utf-8", errors="replace")
            err = container.logs(stdout=False, stderr=True).decode("utf-8", errors="replace")
            committed = str(container.commit().id) if commit else image
            return code, out, err, committed
        except Exception as exc:
            if isinstance(exc, CheckFailed):
                raise
            import docker.errors

            if isinstance(exc, docker.errors.APIError):
                raise CheckFailed(f"cannot run {argv[0]!r}: {exc.explanation or exc}") from None
            raise
        finally:
            container.remove(force=True)


# --- small comparisons, each raising CheckFailed with expected/got ---------------------------


def _skip(reason: str) -> str:
    raise CheckSkipped(reason)


Problem = tuple[str, str, str]  # message, expected, got


def _mismatches(
    expected: tuple[str, ...], excluded: tuple[str, ...], text: str, what: str
) -> list[Problem]:
    """Every regex that should match and does not, and every excluded one that does."""
    problems = [
        (f"{what} does not match {pattern!r}", f"/{pattern}/", text)
        for pattern in expected
        if not re.search(pattern, text)
    ]
    problems += [
        (f"{what} matches excluded {pattern!r}", f"nothing matching /{pattern}/", text)
        for pattern in excluded
        if re.search(pattern, text)
    ]
    return problems


def _raise_all(problems: list[Problem]) -> None:
    """One failure listing every problem (as container-structure-test reports them all)."""
    if not problems:
        return
    message = "; ".join(p[0] for p in problems)
    if len(problems) == 1:
        raise CheckFailed(message, problems[0][1], problems[0][2])
    expected = "\n".join(p[1] for p in problems)
    got = "\n".join(dict.fromkeys(p[2] for p in problems))  # the same output once
    raise CheckFailed(message, expected, got)


def _pair(expected: EnvVar, actual: Mapping[str, str], what: str) -> None:
    if expected.key not in actual:
        raise CheckFailed(
            f"{what} {expected.key} not found in image metadata",
            f"{expected.key}={expected.value}",
            f"{expected.key} not set",
        )
    value = actual[expected.key]
    ok = re.search(expected.value, value) if expected.is_regex else value == expected.value
    if not ok:
        shown = f"/{expected.value}/" if expected.is_regex else repr(expected.value)
        raise CheckFailed(
            f"{what} {expected.key} is {value!r}, expected {shown}",
            f"{expected.key}={shown}",
            f"{expected.key}={value!r}",
        )


def _absent(key: str, actual: Mapping[str, str], what: str) -> None:
    if key in actual:
        raise CheckFailed(f"{what} {key} should not be set", f"{key} unset", f"{key}={actual[key]}")


def _same(what: str, expected: tuple[str, ...], actual: list[str]) -> None:
    if list(expected) != actual:
        want = list(expected)
        raise CheckFailed(f"image {what} is {actual}, expected {want}", str(want), str(actual))


def _equal(what: str, expected: str | None, actual: str) -> None:
    if expected != actual:
        raise CheckFailed(f"image {what} is {actual!r}, expected {expected!r}", expected, actual)


def _port(port: str, exposed: list[str], should: bool) -> None:
    """``8080`` matches ``8080/tcp`` (container-structure-test compares port numbers only)."""
    found = any(port in (p, p.split("/")[0]) for p in exposed)
    if found != should:
        state = "not exposed" if should else "exposed"
        raise CheckFailed(
            f"port {port} is {state}",
            f"port {port} {'exposed' if should else 'not exposed'}",
            ", ".join(exposed) or "no ports",
        )


def _member(what: str, value: str, values: list[str], should: bool) -> None:
    if (value in values) != should:
        state = "not found in config" if should else "should not be declared"
        raise CheckFailed(
            f"{what} {value} {state}",
            value if should else f"no {value}",
            ", ".join(values) or "none",
        )


def run_structure(
    client: docker.DockerClient,
    image_id: str,
    suite: StructureSuite,
    labels: dict[str, str],
    log: Log,
    stop: threading.Event | None = None,
) -> list[CheckResult]:
    return StructureRunner(client, image_id, suite, labels, log, stop).run()
