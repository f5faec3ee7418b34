"""docker-py's ``ssh://`` transport (paramiko), left unloaded by a process that does not use it.

docker-py imports paramiko whenever it is installed — hoist installs it for ``deploy --host
ssh://`` — and paramiko, with cryptography and nacl under it, is more than half of what
``import docker`` costs: time every lint, build, smoke and push run paid for a transport it
never opens. A task that talks to ``$DOCKER_HOST`` only (or the local socket) says so before
anything imports docker; paramiko is then marked absent for the process (``sys.modules``
holds ``None``: importing it raises ``ImportError``), and docker-py leaves its ssh adapter out
exactly as it does on a machine without paramiko. An ``ssh://`` ``DOCKER_HOST`` keeps it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping


def leave_out_unless_used(environ: Mapping[str, str]) -> bool:
    """Mark paramiko absent unless ``DOCKER_HOST`` is ``ssh://`` or it is loaded already
    (also by docker-py); True when it was left out."""
    if environ.get("DOCKER_HOST", "").startswith("ssh://"):
        return False
    if "paramiko" in sys.modules or "docker" in sys.modules:
        return False
    sys.modules["paramiko"] = None  # type: ignore[assignment]
    return True
