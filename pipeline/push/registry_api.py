"""A small client of the OCI distribution API: ask a registry which digest a tag points to.

Why: a push that "succeeded" is only trusted once the registry itself serves the manifest with
the digest the engine reported. This speaks the registry's HTTP API directly (Basic auth, or
the Bearer token dance of Docker Hub, GHCR, Quay, ...), independent of the engine that pushed.

TLS follows docker's convention: a CA for ``HOST:PORT`` in ``/etc/docker/certs.d/HOST:PORT/
ca.crt`` is trusted; loopback registries fall back to plain HTTP as the engine does.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

from pipeline.digests import of_bytes
from pipeline.errors import RegistryError
from pipeline.http_failures import no_answer_reason
from pipeline.push.registries.base import Credentials

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
DOCKER_CERTS = Path("/etc/docker/certs.d")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
# Docker Hub is named docker.io in references, but its API answers on registry-1.docker.io.
API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}


class Unauthorized(RegistryError):
    """The registry, or its token endpoint, answered 401 or 403: it refuses the credentials
    (never transient). A ``RegistryError`` like any other to callers that do not ask."""


class TlsRefused(RegistryError):
    """The TLS handshake failed (a certificate this process does not trust, which the engine
    may: ``daemon.json``'s insecure registries). Callers that can, hand over to docker."""


def is_loopback(endpoint: str) -> bool:
    """Loopback registries are plain HTTP or self-signed as docker allows (127.0.0.0/8)."""
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint
    return host == "localhost" or host.startswith("127.") or host in ("[::1]", "::1")


class RegistryClient:
    def __init__(self, name: str, endpoint: str, credentials: Credentials | None) -> None:
        self.name = name
        self.endpoint = API_HOSTS.get(endpoint, endpoint)
        self.credentials = credentials
        self.session = requests.Session()
        ca = DOCKER_CERTS / endpoint / "ca.crt"
        # Passed per request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self.verify: str | bool = str(ca) if ca.is_file() else True
        self._base: str | None = None
        self._token: str | None = None

    def manifest_digest(self, path: str, reference: str) -> str | None:
        """The ``Docker-Content-Digest`` the registry serves for ``path:reference``, or None."""
        response = self._request("HEAD", f"/v2/{path}/manifests/{reference}", scope_path=path)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, f"manifest {path}:{reference}")
        return response.headers.get("Docker-Content-Digest")

    def tag_manifest(self, path: str, digest: str, tag: str) -> str | None:
        """Point ``tag`` at the manifest ``digest`` this repository already holds: its exact
        bytes are read and put under the tag (what a copy of an image present here does, with
        nothing to upload). Returns the digest the registry answers with."""
        got = self._request("GET", f"/v2/{path}/manifests/{digest}", scope_path=path)
        self._raise_for_status(got, f"manifest {path}@{digest}")
        media = got.headers.get("Content-Type", "")
        put = self._request(
            "PUT",
            f"/v2/{path}/manifests/{tag}",
            scope_path=path,
            body=(got.content, media),
        )
        self._raise_for_status(put, f"tagging {path}:{tag}")
        return put.headers.get("Docker-Content-Digest")

    def get_manifest(self, path: str, reference: str) -> tuple[bytes, str] | None:
        """The manifest's exact bytes and media type, or None when the registry has none."""
        got = self._request("GET", f"/v2/{path}/manifests/{reference}", scope_path=path)
        if got.status_code == 404:
            return None
        self._raise_for_status(got, f"manifest {path}:{reference}")
        return got.content, got.headers.get("Content-Type", "")

    def put_manifest(self, path: str, reference: str, body: bytes, media_type: str) -> str | None:
        """PUT a manifest (an image index, say) under a tag or its digest; the digest the
        registry answers with."""
        put = self._request(
            "PUT", f"/v2/{path}/manifests/{reference}", scope_path=path, body=(body, media_type)
        )
        self._raise_for_status(put, f"putting {path}:{reference}")
        return put.headers.get("Docker-Content-Digest")

    def get_blob(self, path: str, digest: str) -> bytes:
        """A blob's bytes (held in memory: configs, attestations, small layers), following the
        registry's redirect, checked against its digest."""
        got = self._request("GET", f"/v2/{path}/blobs/{digest}", scope_path=path)
        self._raise_for_status(got, f"blob {digest[:19]} of {path}")
        data: bytes = got.content
        if "sha256:" + of_bytes(data) != digest:
            raise RegistryError(
                self.name, f"blob {digest[:19]} of {path} does not match its digest",
                transient=False,
            )  # fmt: skip
        return data

    def has_blob(self, path: str, digest: str) -> bool:
        """Whether this repository already holds the blob (``HEAD``): nothing to upload."""
        response = self._request("HEAD", f"/v2/{path}/blobs/{digest}", scope_path=path)
        if response.status_code == 404:
            return False
        self._raise_for_status(response, f"blob {digest[:19]} of {path}")
        return True

    def put_blob(self, path: str, digest: str, data: bytes) -> None:
        """Upload a blob in one request: ``POST`` an upload, then ``PUT`` its bytes with the
        digest (the distribution spec's monolithic upload; the registry checks the digest)."""
        started = self._request("POST", f"/v2/{path}/blobs/uploads/", scope_path=path)
        self._raise_for_status(started, f"starting an upload to {path}")
        location = self._same_host(started.headers.get("Location", ""))
        joiner = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{joiner}digest={digest}",
            scope_path=path,
            body=(data, "application/octet-stream"),
        )
        self._raise_for_status(done, f"uploading {digest[:19]} to {path}")

    def credentials_accepted(self, path: str) -> bool:
        """Whether the registry accepts the credentials (``GET /v2/``, answering its challenge).

        Why: when a registry's ``/v2/`` ping fails (a 503, say), docker carries on without
        credentials and reports the registry's later 401 as "unauthorized" — a transient
        failure dressed as a permanent one. Asking the registry directly tells the two apart.
        False means a 401 or 403 from ``/v2/`` or its token endpoint; anything else that is
        not a 2xx raises a ``RegistryError`` — transient for a 5xx or a dropped connection.
        """
        try:
            response = self._request("GET", "/v2/", scope_path=path)
            self._raise_for_status(response, "/v2/")
        except Unauthorized:
            return False
        return True

    def post_form(self, url_path: str, form: dict[str, str], what: str) -> dict[str, object]:
        """POST a form to the registry host (e.g. ACR's ``/oauth2/exchange``); the JSON reply."""
        try:
            response = self.session.post(
                self._base_url() + url_path, data=form, timeout=30, verify=self.verify
            )
        except requests.RequestException as exc:
            raise RegistryError(
                self.name, f"cannot reach {self.endpoint}: {type(exc).__name__}", transient=True
            ) from None
        self._raise_for_status(response, what)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RegistryError(self.name, f"{what}: no JSON object in the reply", transient=False)
        return body

    def _same_host(self, location: str) -> str:
        """An upload ``Location`` as a path on this registry (it may be absolute)."""
        parts = urlsplit(location)
        if parts.netloc and parts.netloc != urlsplit(self._base_url()).netloc:
            raise RegistryError(
                self.name, f"upload redirected to another host ({parts.netloc})", transient=False
            )
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _base_url(self) -> str:
        if self._base:
            return self._base
        if is_loopback(self.endpoint):
            # Asked over plain HTTP first: a TLS handshake (a context loading the CA bundle)
            # costs more than the answer, and a TLS registry answers plain HTTP with a 400.
            with contextlib.suppress(requests.RequestException):
                answer = self.session.get(f"http://{self.endpoint}/v2/", timeout=10)
                if answer.status_code in (200, 401):
                    self._base = f"http://{self.endpoint}"
                    return self._base
        try:
            self.session.get(f"https://{self.endpoint}/v2/", timeout=10, verify=self.verify)
            self._base = f"https://{self.endpoint}"
        except requests.exceptions.SSLError:
            if not is_loopback(self.endpoint):
                raise
            self._base = f"http://{self.endpoint}"
        return self._base

    def _request(
        self, method: str, url_path: str, *, scope_path: str, body: tuple[bytes, str] | None = None
    ):
        """Send one request, answering a 401 challenge (Bearer token or Basic) once."""
        try:
            url = self._base_url() + url_path
            response = self._send(method, url, body)
            if response.status_code == 401:
                challenge = response.headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    self._token = self._fetch_token(challenge, scope_path)
                elif self.credentials:
                    self.session.auth = (self.credentials.username, self.credentials.password)
                response = self._send(method, url, body)
            return response
        except requests.exceptions.SSLError:
            raise TlsRefused(
                self.name,
                f"cannot reach {self.endpoint}: TLS certificate not trusted",
                transient=False,
            ) from None
        except requests.RequestException as exc:
            raise RegistryError(
                self.name, f"cannot reach {self.endpoint}: {no_answer_reason(exc)}", transient=True
            ) from None

    def _send(self, method: str, url: str, body: tuple[bytes, str] | None = None):
        headers = {"Accept": MANIFEST_TYPES}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data, headers["Content-Type"] = body
        return self.session.request(
            method, url, headers=headers, data=data, timeout=30, verify=self.verify
        )

    def _fetch_token(self, challenge: str, scope_path: str) -> str | None:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        # The scope the registry asks for (a write needs push), else read access.
        scope = params.get("scope") or f"repository:{scope_path}:pull"
        query = {"service": params.get("service", ""), "scope": scope}
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        response = self.session.get(
            params["realm"], params=query, auth=auth, timeout=30, verify=self.verify
        )
        self._raise_for_status(response, "token")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        return str(token) if token else None

    def _raise_for_status(self, response, what: str) -> None:
        if response.status_code < 400:
            return
        message = f"{what}: HTTP {response.status_code} from {self.endpoint}"
        if response.status_code in (401, 403):
            hint = "check the credentials for this registry"
            raise Unauthorized(self.name, message, transient=False, hint=hint)
        transient = response.status_code in TRANSIENT_STATUS
        raise RegistryError(self.name, message, transient=transient)
