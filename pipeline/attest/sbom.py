"""The pushed image's software bill of materials, made by syft from the registry itself.

syft reads the image by digest from the first target (``registry:HOST/PATH@sha256:…``), so
the SBOM describes exactly what was pushed, not a local image that might differ. Credentials
reach it through its environment (``SYFT_REGISTRY_AUTH_*``), never its command line; a
loopback registry is allowed plain HTTP as docker allows it, and a CA in docker's
``certs.d`` is trusted. The update check is off: nothing but the registry is contacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.lint.tools import find_tool
from pipeline.push.registries.kinds import Credentials
from pipeline.push.registry_api import DOCKER_CERTS, is_loopback

SYFT_FORMATS = {"cyclonedx": "cyclonedx-json", "spdx": "spdx-json"}
PREDICATE_TYPES = {"cyclonedx": "https://cyclonedx.org/bom", "spdx": "https://spdx.dev/Document"}
TIMEOUT = 600


def syft_environment(
    endpoint: str, credentials: Credentials | None, environ: Mapping[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if not k.startswith("SYFT_")}
    env["SYFT_CHECK_FOR_APP_UPDATE"] = "false"
    if is_loopback(endpoint):
        env["SYFT_REGISTRY_INSECURE_USE_HTTP"] = "true"
    ca = DOCKER_CERTS / endpoint / "ca.crt"
    if ca.is_file():
        env["SYFT_REGISTRY_CA_CERT"] = str(ca)
    if credentials is not None:
        env["SYFT_REGISTRY_AUTH_AUTHORITY"] = endpoint
        env["SYFT_REGISTRY_AUTH_USERNAME"] = credentials.username
        env["SYFT_REGISTRY_AUTH_PASSWORD"] = credentials.password
    return env


def scan(
    reference: str,
    endpoint: str,
    credentials: Credentials | None,
    formats: tuple[str, ...],
    environ: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """One syft run writing every requested format; ``{"cyclonedx": {...}, ...}``."""
    env = syft_environment(endpoint, credentials, os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="hoist-sbom-") as directory:
        outputs = {name: Path(directory) / f"sbom.{name}.json" for name in formats}
        command = [find_tool("syft"), "scan", f"registry:{reference}", "--quiet"]
        for name, path in outputs.items():
            command += ["-o", f"{SYFT_FORMATS[name]}={path}"]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise PipelineError(
                f"syft did not finish scanning {reference} in {TIMEOUT} s"
            ) from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PipelineError(f"syft could not scan {reference}: {last[:200]}")
        return {name: json.loads(path.read_text()) for name, path in outputs.items()}


def component_count(name: str, document: dict[str, Any]) -> int:
    """How many packages a document lists (CycloneDX ``components``, SPDX ``packages``)."""
    key = "components" if name == "cyclonedx" else "packages"
    listed = document.get(key)
    return len(listed) if isinstance(listed, list) else 0
