"""Google Container Registry (``gcr.io``, ``REGION.gcr.io``) and Artifact Registry
(``REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE``).

Naming: GCR paths start with the project (``gcr.io/PROJECT/IMAGE``), Artifact Registry paths
with project and repository, so an AR path has at least three components. A domain-scoped
project (``example.com:proj``) is written ``example.com/proj`` and takes two.

Credentials, in this order (Google's documented ``docker login`` user names):
``GOOGLE_OAUTH_ACCESS_TOKEN`` → ``oauth2accesstoken`` + the token; a service-account key file in
``GOOGLE_APPLICATION_CREDENTIALS`` → ``_json_key`` + the file's contents; otherwise google-auth's
default credentials (workload identity federation, ``gcloud auth application-default login``,
the metadata server) → ``oauth2accesstoken`` + a fresh access token, refreshed when it expires.
google-auth is imported only on that last path (``pip install 'hoist[gcp]'``).
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, RegistryError
from pipeline.push.registries.base import (
    Credentials,
    RegistryKind,
    Target,
    TargetConfig,
    check_options,
    config_error,
    no_credentials,
    optional_import,
    parse_repository,
    require_depth,
    target_from,
)

GCR_HOST = re.compile(r"^(?:[a-z]+\.)?gcr\.io$")
AR_HOST = re.compile(r"^[a-z0-9-]+-docker\.pkg\.dev$")
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
GOOGLE_HINT = (
    "set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. `gcloud auth print-access-token`) or "
    "GOOGLE_APPLICATION_CREDENTIALS (a key file; in GitHub Actions google-github-actions/auth)"
)


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    if not config.repository:
        raise config_error(
            config,
            "repository",
            "is required for kind gcr",
            hint="gcr.io/PROJECT/IMAGE or REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE",
        )
    host, path = parse_repository(config, config.repository, default_host=None)
    parts = path.split("/")
    project_parts = 2 if "." in parts[0] else 1  # example.com/proj: a domain-scoped project
    if GCR_HOST.match(host):
        require_depth(config, host, path, project_parts + 1, None, "PROJECT/IMAGE")
    elif AR_HOST.match(host):
        require_depth(config, host, path, project_parts + 2, None, "PROJECT/REPOSITORY/IMAGE")
    else:
        raise config_error(
            config,
            "repository",
            f"{host} is neither GCR nor Artifact Registry",
            hint="gcr.io, REGION.gcr.io or REGION-docker.pkg.dev",
        )
    project = parts[project_parts - 1]
    if not PROJECT_ID.match(project):
        raise config_error(
            config,
            "repository",
            f"{project!r} is not a Google Cloud project id",
            hint="6-30 lower-case letters, digits and hyphens, starting with a letter",
        )
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    key_file = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    return _explicit(target, environ) or _default_credentials(target, key_file)


def check_credentials(target: Target, environ: Mapping[str, str]) -> None:
    """What is known to be missing without asking Google: an unreadable key file, or
    google-auth when the token must come from it. Whether its default chain finds an identity
    (the metadata server, a federation token exchange) takes a call to Google — the check
    beside lint and build asks, fetching the token as the push will."""
    if _explicit(target, environ) is None:
        optional_import(target, "google.auth", "gcp", GOOGLE_HINT)


def _explicit(target: Target, environ: Mapping[str, str]) -> Credentials | None:
    """The access token, or a service-account key file's contents: no SDK, no network."""
    token = environ.get("GOOGLE_OAUTH_ACCESS_TOKEN")
    if token:
        return Credentials("oauth2accesstoken", token, source="GOOGLE_OAUTH_ACCESS_TOKEN")
    key_file = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file:
        text, info = _read_key_file(target, key_file)
        if info.get("type") == "service_account":
            return Credentials("_json_key", text, source="GOOGLE_APPLICATION_CREDENTIALS")
    return None


def _read_key_file(target: Target, key_file: str) -> tuple[str, dict[str, Any]]:
    try:
        text = Path(key_file).read_text()
        info = json.loads(text)
    except (OSError, ValueError) as exc:
        raise no_credentials(
            target,
            GOOGLE_HINT,
            why=f"GOOGLE_APPLICATION_CREDENTIALS={key_file} is not a readable JSON key "
            f"({type(exc).__name__})",
        ) from None
    return text, info if isinstance(info, dict) else {}


def _default_credentials(target: Target, key_file: str | None) -> Credentials:
    """google-auth's credentials (from the file if given, else the default chain) → a token."""
    google_auth = optional_import(target, "google.auth", "gcp", GOOGLE_HINT)
    from google.auth import exceptions
    from google.auth.transport.requests import Request

    try:
        if key_file:
            found, _ = google_auth.load_credentials_from_file(key_file, scopes=SCOPES)
        else:
            found, _ = google_auth.default(scopes=SCOPES)
        found.refresh(Request())
    except exceptions.DefaultCredentialsError:
        raise no_credentials(target, GOOGLE_HINT, why="no Google credentials found") from None
    except exceptions.TransportError as exc:
        raise RegistryError(target.name, f"Google token: {exc}", transient=True) from None
    except exceptions.RefreshError as exc:
        raise PipelineError(
            f"{target.name}: Google refused the credentials: {exc}", hint=GOOGLE_HINT
        ) from None
    expiry = getattr(found, "expiry", None)  # naive UTC datetime, google-auth's convention
    return Credentials(
        "oauth2accesstoken",
        str(found.token),
        source="google-auth default credentials",
        expires_at=calendar.timegm(expiry.timetuple()) if expiry else None,
    )


KIND = RegistryKind("gcr", make_target, credentials, check_credentials=check_credentials)
