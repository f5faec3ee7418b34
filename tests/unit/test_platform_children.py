"""The kept record of which child manifest each platform's image became at a repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.build.platforms import parse_platform
from pipeline.push import children
from pipeline.push.children import KEPT, known_child, remember_child
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import resolve_target
from pipeline.push.registry_api import RegistryClient
from pipeline.push.registry_server import free_port

ARM64 = parse_platform("linux/arm64")


def _target(port: int, path: str = "team/app"):  # type: ignore[no-untyped-def]
    config = TargetConfig(kind="generic", name="team", repository=f"registry.example.com/{path}",
                          endpoint=f"127.0.0.1:{port}")  # fmt: skip
    return resolve_target(config, "app", {})


def test_each_repository_keeps_its_newest_images(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path))
    here, other = _target(5999), _target(5999, "team/other")
    for n in range(KEPT + 5):
        remember_child(here, f"sha256:{n:064x}", f"sha256:{n + 1:064x}")
    remember_child(here, f"sha256:{7:064x}", "sha256:" + "e" * 64)  # pushed again: now newest
    [record] = (tmp_path / "children").iterdir()
    kept = json.loads(record.read_text())
    assert len(kept) == KEPT and f"sha256:{0:064x}" not in kept
    assert list(kept.items())[-1] == (f"sha256:{7:064x}", "sha256:" + "e" * 64)
    assert children._kept(other) == {}  # another repository keeps its own record


def test_a_kept_child_the_registry_cannot_confirm_is_pushed_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path))
    target = _target(free_port())  # nothing listens there
    remember_child(target, "sha256:" + "1" * 64, "sha256:" + "2" * 64)
    registry = RegistryClient(target.name, target.endpoint, None)
    assert known_child(registry, target, "sha256:" + "1" * 64, ARM64) is None
    assert known_child(registry, target, "sha256:" + "3" * 64, ARM64) is None  # never pushed
