"""What a smoke run reads besides the image, as digests — with the image id, the key of a kept
smoke verdict (``pipeline.verdicts``).

The image id is the image's content; everything else the checks depend on is the ``smoke``
section (ports, requests, policy, the structure tests as read — a structure file's content is
in it), container-structure-test itself, and what CST reads from the host: the
``containerRunOptions`` ``envFile`` and the values of the ``envVars`` it passes on. Host
directories bind-mounted into its containers are not keyed (their trees may be anything), so
a suite with ``bindMounts`` is never reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.digests import of_bytes, of_file, of_value
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.structure_run import TOOL
from pipeline.tools import find_tool, identity


def smoke_inputs(smoke: SmokeConfig, environ: Mapping[str, str]) -> dict[str, str] | None:
    """``{"section" | "tool:…" | "env_file" | "env:<NAME>": digest}``, or None when the checks
    read host directories (structure ``bindMounts``)."""
    found = {"section": of_value(smoke)}
    suite = smoke.structure
    if suite is None:
        return found
    options = suite.data.get("containerRunOptions") or {}
    if options.get("bindMounts"):
        return None
    found[f"tool:{TOOL}"] = identity(Path(find_tool(TOOL)))
    if options.get("envFile"):
        found["env_file"] = of_file(suite.workdir / str(options["envFile"]))
    for name in options.get("envVars") or ():
        found[f"env:{name}"] = of_bytes(environ.get(str(name), "").encode())
    return found
