"""``build:`` of pipeline.yaml: context, Dockerfile, args, target, the base-image ARG, and
the BuildKit-only parts: which builder, the registry layer cache, build secrets and the
platforms (none given: the engine's own, built exactly as without the key)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.build.platforms import Platform, parse_platform
from pipeline.config.fields import Fields

KEYS = (
    "context", "dockerfile", "args", "target", "base_arg", "backend", "cache", "secrets",
    "platforms",
)  # fmt: skip
BACKENDS = ("auto", "buildkit", "classic")
CACHE_DEFAULTS = ("registry", "gha")
CACHE_KEYS = ("from", "to")
_SECRET_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_SECRET_ARG_RE = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class BuildSecret:
    """A build secret: the value is read by the docker CLI from ``env`` or ``file``, never by
    hoist onto an argument or into a file of its own."""

    id: str
    env: str | None = None
    file: Path | None = None


@dataclass(frozen=True)
class CacheConfig:
    """``build.cache``: refs to read layers from and the one to write, or a ``default``
    (``registry``: the first push target's ``:buildcache`` tag; ``gha``: GitHub's cache)
    that only the run can turn into refs."""

    sources: tuple[str, ...] = ()
    destination: str | None = None
    default: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.sources or self.destination or self.default)


@dataclass(frozen=True)
class BuildConfig:
    context: Path
    dockerfile: Path
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    base_arg: str = "BASE_IMAGE"
    backend: str = "auto"
    cache: CacheConfig = field(default_factory=CacheConfig)
    secrets: tuple[BuildSecret, ...] = ()
    platforms: tuple[Platform, ...] = ()  # empty: the engine's own, as without the key


def parse_build(top: Fields, root: Path) -> BuildConfig:
    """The ``build`` section, with context and Dockerfile resolved against ``root`` and checked."""
    return _resolve_paths(_build(top.section("build", KEYS)), root, top)


def _build(section: Fields) -> BuildConfig:
    args = section.str_map("args")
    for name in args:
        if _SECRET_ARG_RE.search(name):
            raise section.error(
                f"args.{name}",
                "looks like a secret; build args are stored in the image history",
                hint="pass secrets as build secrets (RUN --mount=type=secret), never as args",
            )
    base_arg = section.text("base_arg", "BASE_IMAGE")
    assert base_arg is not None
    return BuildConfig(
        context=Path(section.text("context", ".") or "."),
        dockerfile=Path(section.text("dockerfile", "Dockerfile") or "Dockerfile"),
        args=args,
        target=section.text("target"),
        base_arg=base_arg,
        backend=_backend(section),
        cache=_cache(section),
        secrets=_secrets(section),
        platforms=_platforms(section),
    )


def _backend(section: Fields) -> str:
    backend = section.text("backend", "auto") or "auto"
    if backend not in BACKENDS:
        raise section.error("backend", f"unknown backend {backend!r}", hint=" | ".join(BACKENDS))
    return backend


def _platforms(section: Fields) -> tuple[Platform, ...]:
    """``platforms: [linux/amd64, linux/arm64]``: each built with BuildKit (one per build)."""
    found: list[Platform] = []
    for index, text in enumerate(section.str_list("platforms")):
        try:
            platform = parse_platform(text)
        except ValueError as exc:
            raise section.error(f"platforms[{index}]", str(exc)) from None
        if any(platform.matches(seen) for seen in found):
            raise section.error(f"platforms[{index}]", f"{text!r} is listed twice")
        found.append(platform)
    if found and section.text("backend", "auto") == "classic":
        raise section.error(
            "platforms",
            "needs BuildKit, but build.backend is classic (the classic builder builds only "
            "the engine's own platform)",
            hint="set build.backend: buildkit (or auto), or remove build.platforms",
        )
    return tuple(found)


def _cache(section: Fields) -> CacheConfig:
    raw = section.data.get("cache")
    if raw is None or isinstance(raw, str):
        default = section.text("cache")
        if default is not None and default not in CACHE_DEFAULTS:
            raise section.error(
                "cache",
                f"unknown cache {default!r}",
                hint="registry, gha, or a mapping {from: [REF, ...], to: REF}",
            )
        return CacheConfig(default=default)
    cache = section.section("cache", CACHE_KEYS)
    sources = cache.str_list("from")
    destination = cache.text("to")
    for key, ref in [*((f"from[{i}]", r) for i, r in enumerate(sources)), ("to", destination)]:
        if ref is not None and (not ref.strip() or any(c.isspace() or c == "," for c in ref)):
            raise cache.error(key, f"{ref!r} is not an image reference")
    return CacheConfig(tuple(sources), destination)


def _secrets(section: Fields) -> tuple[BuildSecret, ...]:
    raw = section.data.get("secrets")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise section.error("secrets", "expected a mapping of ids to {env: NAME} or {file: PATH}")
    found = []
    ids = section.section("secrets", tuple(str(k) for k in raw))
    for secret_id in raw:
        if not isinstance(secret_id, str) or not _SECRET_ID_RE.match(secret_id):
            problem = f"{secret_id!r} is not a secret id (letters, digits, _ . -)"
            raise section.error("secrets", problem)
        one = ids.section(secret_id, ("env", "file"))
        env, file = one.text("env"), one.text("file")
        if (env is None) == (file is None):
            raise one.error(None, "give exactly one of env: NAME or file: PATH")
        found.append(BuildSecret(secret_id, env, Path(file) if file else None))
    return tuple(found)


def _resolve_paths(build: BuildConfig, root: Path, top: Fields) -> BuildConfig:
    context = (root / build.context).resolve()
    if not context.is_dir():
        raise top.error("build.context", f"directory {build.context} not found (next to the file)")
    dockerfile = (context / build.dockerfile).resolve()
    if not dockerfile.is_relative_to(context):
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} is outside the build context {build.context}",
            hint="put the Dockerfile inside the context directory",
        )
    if not dockerfile.is_file():
        raise top.error(
            "build.dockerfile",
            f"{build.dockerfile} not found in {build.context}",
            hint="create it or set build.dockerfile",
        )
    try:
        dockerfile.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{build.dockerfile} is not UTF-8 text (byte {exc.start})"
        raise top.error("build.dockerfile", problem) from None
    secrets = tuple(_resolve_secret(s, root) for s in build.secrets)
    return replace(build, context=context, dockerfile=dockerfile, secrets=secrets)


def _resolve_secret(secret: BuildSecret, root: Path) -> BuildSecret:
    """A ``file:`` secret is relative to pipeline.yaml (whether it exists is the build's
    question: a CI job may write it just before, and lint does not need it)."""
    return replace(secret, file=(root / secret.file).resolve()) if secret.file else secret
