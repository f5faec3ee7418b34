"""Reading and writing cosign's storage layout in a registry, over push's registry client.

cosign stores what it attaches to an image as ordinary OCI image manifests, tagged from the
image's digest (``specs/SIGNATURE_SPEC.md``, tag-based discovery): the signature at
``sha256-<hex>.sig``, attestations at ``sha256-<hex>.att``. Each signed payload is one layer
blob, described with its media type and annotations (the base64 signature sits in the
``dev.cosignproject.cosign/signature`` annotation; attestations leave it empty and name their
``predicateType``). The config is go-containerregistry's empty image config with one
``diff_id`` and one history entry per layer, as ``mutate.Append`` writes it. This layout works
on every registry: the OCI 1.1 referrers API, the alternative, is not served by all (the CNCF
distribution registry answers 404).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pipeline.errors import RegistryError
from pipeline.push.registry_api import RegistryClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: cosign records no creation time


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-", 1) + ".sig"


def attestation_tag(digest: str) -> str:
    return digest.replace(":", "-", 1) + ".att"


@dataclass(frozen=True)
class Layer:
    """One signed payload as stored: its bytes, media type and descriptor annotations."""

    data: bytes
    media_type: str
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.data)


def manifest_for(layers: list[Layer]) -> tuple[bytes, bytes]:
    """The config blob and the manifest that hold ``layers``, serialised as Go does."""
    digests = [layer.digest for layer in layers]
    config = {
        "architecture": "",
        "created": ZERO_TIME,
        "history": [{"created": ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": digests},
        "config": {},
    }
    config_blob = _compact(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": len(config_blob),
            "digest": sha256(config_blob),
        },
        "layers": [
            {
                "mediaType": layer.media_type,
                "size": len(layer.data),
                "digest": layer.digest,
                **({"annotations": layer.annotations} if layer.annotations else {}),
            }
            for layer in layers
        ],
    }
    return config_blob, _compact(manifest)


class ArtifactStore(RegistryClient):
    """push's registry client, taught to upload blobs and manifests and to read them back."""

    def write(self, path: str, tag: str, layers: list[Layer]) -> str:
        """Upload every blob, then the manifest under ``tag``; returns the manifest digest."""
        config_blob, manifest = manifest_for(layers)
        for blob in [config_blob, *(layer.data for layer in layers)]:
            if not self.has_blob(path, digest := sha256(blob)):
                self.put_blob(path, digest, blob)
        response = self._request(
            "PUT", f"/v2/{path}/manifests/{tag}", scope_path=path, body=(manifest, OCI_MANIFEST)
        )
        self._raise_for_status(response, f"writing {path}:{tag}")
        return sha256(manifest)

    def read(self, path: str, tag: str) -> list[Layer] | None:
        """The layers of the manifest at ``tag``, each blob checked against its digest;
        None when the tag does not exist."""
        response = self._request("GET", f"/v2/{path}/manifests/{tag}", scope_path=path)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, f"manifest {path}:{tag}")
        try:
            descriptors = json.loads(response.content)["layers"]
            wanted = [(str(d["digest"]), str(d["mediaType"]), d.get("annotations") or {})
                      for d in descriptors]  # fmt: skip
        except (ValueError, KeyError, TypeError):
            raise RegistryError(self.name, f"{path}:{tag} is not an image manifest",
                                transient=False) from None  # fmt: skip
        return [Layer(self.get_blob(path, d), media, dict(notes)) for d, media, notes in wanted]


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
