"""Shared pieces of the reliability, secrets and gates suites: a small service app to run
through the real pipeline, and checks of what the engine and a registry hold afterwards.

The app is Python's own http.server on the offline ``hoist-offline/python:bookworm`` base (no
npm, no eslint), in a git repository of its own, so a run's lint, build and smoke stages take
seconds; its Dockerfile and pipeline.yaml are written per test to break it in one place. A test
that builds it requests the ``python_base`` fixture, which makes sure that base exists.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.conftest import _git_init

BASE = "hoist-offline/python:bookworm"
SERVICE_DOCKERFILE = f"""\
FROM {BASE}
WORKDIR /srv
COPY index.html ./
USER 1000:1000
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
"""
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.manifest.v1+json"
)


def service_config(image: str, **sections: Any) -> dict[str, Any]:
    """pipeline.yaml for the service app; ``sections`` replace or extend the defaults."""
    config: dict[str, Any] = {
        "image": image,
        "build": {"context": "app"},
        "metadata": {"tags": ["type=raw,value=test", "type=sha"]},
        "lint": {"ruff": [], "eslint": False, "workflows": False},
        # python as PID 1 ignores SIGTERM: no graceful-stop check (it would wait 10 s)
        "smoke": {"port": 8000, "path": "/", "expect_body": "hoist service", "timeout": 60,
                  "stop_timeout": 0},
    }  # fmt: skip
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def make_service_project(root: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository at ``root`` with the service app in ``app/``; returns ``root``."""
    app = root / "app"
    app.mkdir(parents=True)
    (app / "Dockerfile").write_text(SERVICE_DOCKERFILE)
    (app / "index.html").write_text("<h1>hoist service</h1>\n")
    for relative, content in (files or {}).items():
        (app / relative).parent.mkdir(parents=True, exist_ok=True)
        (app / relative).write_text(content)
    (root / "pipeline.yaml").write_text(yaml.safe_dump(service_config("hoist-test/unused")))
    _git_init(root)
    return root


def write_config(root: Path, config: dict[str, Any], name: str | None = None) -> Path:
    """Write a pipeline.yaml variant next to the project's (paths stay relative to ``root``)."""
    path = root / (name or f"pipeline-{secrets.token_hex(3)}.yaml")
    path.write_text(yaml.safe_dump(config))
    return path


def unique_image(prefix: str) -> str:
    return f"hoist-test/{prefix}-{secrets.token_hex(3)}"


def embedded_registry_state(state_dir: Path) -> tuple[dict[str, Any], str]:
    """The embedded registry's state.json and its password (from a run's HOIST_STATE_DIR)."""
    root = state_dir / "registry"
    state = json.loads((root / "state.json").read_text())
    return state, (root / "auth").read_text().strip()


def last_report(state_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((state_dir / "reports" / "last.json").read_text())
    return report


def run_containers(client, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Containers (running or not) labelled with a run's id: what smoke/structure made."""
    found = client.containers.list(all=True, filters={"label": f"io.hoist.run={run_id}"})
    return [c.name for c in found]


def containers_running(client, marker: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Containers whose command contains ``marker`` (a build step's intermediate container).

    Other sessions share the engine: a container may vanish between list and inspect.
    """
    names = []
    for summary in client.api.containers(all=True):
        if marker in (summary.get("Command") or ""):
            names.append(f"{summary['Id'][:12]} ({summary.get('Status')})")
    return names


class RegistryReader:
    """Read a registry over its HTTP API (Basic auth), independent of hoist and docker."""

    def __init__(self, address: str, username: str, password: str) -> None:
        self.base = f"http://{address}"
        self.session = requests.Session()
        self.session.auth = (username, password)

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]] | None:
        response = self.session.get(
            f"{self.base}/v2/{repository}/manifests/{reference}",
            headers={"Accept": MANIFEST_TYPES},
            timeout=30,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"], response.json()

    def blob(self, repository: str, digest: str) -> bytes | None:
        response = self.session.get(f"{self.base}/v2/{repository}/blobs/{digest}", timeout=120)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content

    def config(self, repository: str, reference: str) -> dict[str, Any]:
        found = self.manifest(repository, reference)
        assert found is not None, f"{repository}:{reference} is not served"
        blob = self.blob(repository, found[1]["config"]["digest"])
        assert blob is not None
        config: dict[str, Any] = json.loads(blob)
        return config

    def check_consistent(self, repository: str, reference: str) -> str | None:
        """If ``reference`` is served: fetch every blob its manifest names and check each
        one's sha256 (none missing, none truncated); the manifest digest. None if not served."""
        found = self.manifest(repository, reference)
        if found is None:
            return None
        digest, manifest = found
        blobs = [manifest["config"], *manifest["layers"]]
        for descriptor in blobs:
            content = self.blob(repository, descriptor["digest"])
            assert content is not None, f"{reference} names a missing blob {descriptor['digest']}"
            assert len(content) == descriptor["size"]
            assert "sha256:" + hashlib.sha256(content).hexdigest() == descriptor["digest"]
        return digest

    def tags(self, repository: str) -> list[str]:
        response = self.session.get(f"{self.base}/v2/{repository}/tags/list", timeout=30)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return list(response.json().get("tags") or [])
