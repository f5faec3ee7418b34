"""``invoke keygen``: a key pair written as cosign writes it (``cosign.key``, ``cosign.pub``).

The password comes from ``COSIGN_PASSWORD`` (as for cosign; empty means no password) or,
on a terminal, a prompt asked twice; it is masked at once and never stored. The private key is
created with mode 0600 and never over an existing file, so a key in use cannot be lost.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pipeline.attest.keys import generate_key_pair
from pipeline.errors import ConfigError
from pipeline.secrets import mask_secret


def keygen_password(environ: Mapping[str, str]) -> str:
    if "COSIGN_PASSWORD" in environ:
        password = environ["COSIGN_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass("Enter password for private key: ")
        if getpass.getpass("Enter password for private key again: ") != password:
            raise ConfigError("password", None, "the two passwords differ")
    else:
        raise ConfigError("COSIGN_PASSWORD", None, "is not set and there is no terminal to ask",
                          hint="set COSIGN_PASSWORD; empty means no password")  # fmt: skip
    mask_secret(password)
    return password


def write_key_pair(directory: Path, prefix: str, password: str) -> tuple[Path, Path]:
    """Create ``PREFIX.key`` (0600) and ``PREFIX.pub`` in ``directory``; refuse to overwrite."""
    private, public = directory / f"{prefix}.key", directory / f"{prefix}.pub"
    for path in (private, public):
        if path.exists():
            raise ConfigError(str(path), None, "exists already; not overwritten",
                              hint="move it away, or pass --prefix NAME")  # fmt: skip
    pair = generate_key_pair(password.encode())
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pair.private_pem)
    public.write_bytes(pair.public_pem)
    return private, public
