"""Fixtures the deploy modules share: a server engine and an htpasswd registry, one per module.

Module-scoped, so a module pushes node-app's 200 MB base layer once and its engine's images are
gone with it; each module that asks gets its own, removed by pid when the module ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from pipeline.push.registry_server import RegistryServer, start_registry, stop_registry
from tests.support.server_engine import ServerEngine, start_server_engine, stop_server_engine


@pytest.fixture(scope="module")
def server_engine() -> Iterator[ServerEngine]:
    engine = start_server_engine()
    yield engine
    stop_server_engine(engine)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A real distribution registry with htpasswd auth (user ``deployer``, a random password)."""
    root = tmp_path_factory.mktemp("deploy-registry")
    server = start_registry(root, username="deployer", password=secrets.token_urlsafe(16))
    yield server
    stop_registry(server.pid)
