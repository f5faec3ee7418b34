"""Signing: a signed push in cosign's layout, `invoke verify`, and what it refuses and why.

One real push of node-app (lint, build, smoke, push, then the attest stage) to a real htpasswd
distribution registry, with a key pair made by `invoke keygen` and handed over the way CI does
(``COSIGN_PRIVATE_KEY``, ``COSIGN_PASSWORD``), while every process's command line is watched.
Then `invoke verify` must accept that digest and refuse each broken case with its reason: a tag
moved to another image, a signature copied from another digest, a signature from another key,
a missing attestation, a gate attestation that says failed. What hoist stored is read back from
the registry and checked with implementations hoist does not use (securesystemslib's DSSE, the
in-toto protobuf schemas, CycloneDX's strict validator, spdx-tools), and cosign's own signed
image (tests/data/cosign) goes through `invoke verify` too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from pipeline.attest import keys, statements
from pipeline.attest.store import (
    SIGNATURE_ANNOTATION,
    ArtifactStore,
    Layer,
    attestation_tag,
    signature_tag,
)
from pipeline.build.backend import find_cli
from pipeline.push.registries.kinds import Credentials
from pipeline.push.registry_server import RegistryServer, start_registry, stop_registry
from tests.conftest import NODE_APP, _git_init, run_invoke
from tests.integration.test_secrets import CommandLineWatch, files_containing
from tests.support.signing import forge

pytestmark = pytest.mark.integration

PATH = "team/app"
DATA = Path(__file__).resolve().parents[1] / "data" / "cosign"


@dataclass
class SignedPush:
    registry: RegistryServer
    hub: RegistryServer  # a second target, reached by the fan-out copy
    project: Path
    config: Path
    env: dict[str, str]
    digest: str
    report: dict[str, Any]
    outputs: list[str]
    watch: CommandLineWatch
    password: str
    private_pem: str
    images: list[str]  # what the pushes built, removed by id after the module

    @property
    def repository(self) -> str:
        return f"{self.registry.address}/{PATH}"

    def verify(self, reference: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = run_invoke("verify", reference, "--config", str(self.config), *args,
                            env=self.env, cwd=self.project)  # fmt: skip
        print(f"$ invoke verify {reference} {' '.join(args)} -> {result.returncode}")
        print(result.stdout + result.stderr)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def store(self) -> ArtifactStore:
        creds = Credentials(self.registry.username, self.registry.password)
        return ArtifactStore("team", self.registry.address, creds)

    def registry_get(self, url_path: str) -> requests.Response:
        auth = (self.registry.username, self.registry.password)
        accept = "application/vnd.oci.image.manifest.v1+json"
        return requests.get(f"http://{self.registry.address}/v2/{PATH}/{url_path}", auth=auth,
                            headers={"Accept": accept}, timeout=10)  # fmt: skip


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, docker_client, node_base
) -> Iterator[SignedPush]:  # type: ignore[no-untyped-def]
    """node-app built, smoke-tested, pushed and signed once for the module (on ``node_base``,
    the stand-in for its base image, which this fixture asks for rather than rely on ``make
    setup``)."""
    root = tmp_path_factory.mktemp("signing")
    registry = start_registry(root / "registry", username="ci-bot",
                              password=secrets.token_urlsafe(16))  # fmt: skip
    hub = start_registry(root / "hub", username="acme", password=secrets.token_urlsafe(16))
    pushed = None
    try:
        pushed = _signed_push(root, registry, hub)
        yield pushed
    finally:
        stop_registry(registry.pid)
        stop_registry(hub.pid)
        for image in pushed.images if pushed else []:
            docker_client.images.remove(image, force=True)


def _signed_push(root: Path, registry: RegistryServer, hub: RegistryServer) -> SignedPush:
    project = root / "project"
    shutil.copytree(NODE_APP, project / "app", symlinks=True)
    config = {
        "image": f"hoist-test/signed-{secrets.token_hex(3)}",
        "build": {"context": "app"},
        "metadata": {"tags": ["type=sha", "type=raw,value=test"]},
        "lint": {"ruff": []},
        "smoke": {"timeout": 20},
        "registries": [
            {"kind": "generic", "name": "team", "repository": f"{registry.address}/{PATH}"},
            {"kind": "dockerhub", "repository": "acme/app", "endpoint": hub.address},
        ],
        "signing": {"public_key": "cosign.pub", "sbom": ["cyclonedx", "spdx"]},
    }
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    (project / ".gitignore").write_text("cosign.key\n")
    _git_init(project)
    password = "pw-" + secrets.token_urlsafe(12)
    env = {
        "HOIST_STATE_DIR": str(root / "state"),
        "COSIGN_PASSWORD": password,
        "REGISTRY_USERNAME": registry.username,
        "REGISTRY_PASSWORD": registry.password,
        "DOCKERHUB_USERNAME": hub.username,
        "DOCKERHUB_TOKEN": hub.password,
    }
    outputs = []
    keygen = run_invoke("keygen", "--dir", str(project), env=env, cwd=project)
    outputs.append(keygen.stdout + keygen.stderr)
    assert keygen.returncode == 0, keygen.stdout + keygen.stderr
    private_pem = (project / "cosign.key").read_text()
    env["COSIGN_PRIVATE_KEY"] = private_pem  # as CI hands it over: a secret variable
    secrets_seen = [password, *private_pem.splitlines()[1:-1]]
    watch = CommandLineWatch(secrets_seen)
    try:
        push = run_invoke("push", "--config", str(path), env=env, cwd=project)
    finally:
        watch.stop()
    print(push.stdout + push.stderr)
    outputs.append(push.stdout + push.stderr)
    assert push.returncode == 0, push.stdout + push.stderr
    report = json.loads((root / "state" / "reports" / "last.json").read_text())
    digest = report["pushes"][0]["digest"]
    return SignedPush(registry, hub, project, path, env, digest, report, outputs, watch,
                      password, private_pem, [report["image_id"]])  # fmt: skip


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    [line] = result.stderr.strip().splitlines()
    return line


def _auto_backend() -> str:
    """The backend ``build.backend: auto`` takes on this machine: the signed push's builder."""
    return "buildkit" if find_cli(os.environ)[0] else "classic"


def test_a_signed_push_verifies_by_digest_and_by_tag(signed: SignedPush) -> None:
    by_digest = signed.verify(f"{signed.repository}@{signed.digest}")
    by_tag = signed.verify(f"{signed.repository}:test")

    for result in (by_digest, by_tag):
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        assert lines[1].startswith("signature   ok  sha256:")
        assert lines[1].endswith(f"signed {signed.repository}@{signed.digest}")
        assert lines[2].startswith("sbom        ok  https://cyclonedx.org/bom: ")
        assert lines[3].startswith(f"provenance  ok  hoist 0.1.0 ({_auto_backend()}) from ")
        assert lines[4] == "gate        ok  passed: lint (hadolint, eslint), smoke (6 checks)"
        assert lines[-1] == f"verified: {signed.repository}@{signed.digest}"
    attest = [s for s in signed.report["stages"] if s["stage"] == "attest"]
    assert attest and attest[0]["status"] == "passed"
    assert signed.report["attestations"][0]["attestations"] == [
        "provenance", "gate", "sbom:cyclonedx", "sbom:spdx"]  # fmt: skip


def test_every_target_registry_holds_its_own_signature(signed: SignedPush) -> None:
    """The second target got the image by fan-out copy; hoist wrote the artifacts there too,
    each naming that target's repository."""
    assert signed.report["pushes"][1]["copied_from"] == "team"
    assert [a["target"] for a in signed.report["attestations"]] == ["team", "dockerhub"]

    result = signed.verify(f"{signed.hub.address}/acme/app@{signed.digest}")

    assert result.returncode == 0
    assert result.stdout.splitlines()[1].endswith(f"signed docker.io/acme/app@{signed.digest}")
    assert result.stdout.splitlines()[4].startswith("gate        ok  passed")


def test_the_stored_layout_is_cosigns(signed: SignedPush) -> None:
    hex_digest = signed.digest.split(":")[1]
    tags = signed.registry_get("tags/list").json()["tags"]
    assert {f"sha256-{hex_digest}.sig", f"sha256-{hex_digest}.att"} <= set(tags)
    manifest = signed.registry_get(f"manifests/sha256-{hex_digest}.sig").json()
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    payload = signed.registry_get(f"blobs/{layer['digest']}").content
    assert json.loads(payload) == {
        "critical": {"identity": {"docker-reference": signed.repository},
                     "image": {"docker-manifest-digest": signed.digest},
                     "type": "cosign container image signature"},
        "optional": None,
    }  # fmt: skip
    public = serialization.load_pem_public_key((signed.project / "cosign.pub").read_bytes())
    assert keys.signature_valid(public, payload, layer["annotations"][SIGNATURE_ANNOTATION])  # type: ignore[arg-type]
    config = json.loads(signed.registry_get(f"blobs/{manifest['config']['digest']}").content)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}

    attestations = signed.registry_get(f"manifests/sha256-{hex_digest}.att").json()["layers"]
    assert [a["annotations"]["predicateType"] for a in attestations] == [
        "https://slsa.dev/provenance/v1", statements.GATE_PREDICATE,
        "https://cyclonedx.org/bom", "https://spdx.dev/Document"]  # fmt: skip
    assert {a["mediaType"] for a in attestations} == {"application/vnd.dsse.envelope.v1+json"}
    assert {a["annotations"][SIGNATURE_ANNOTATION] for a in attestations} == {""}


def _statements(signed: SignedPush) -> dict[str, dict[str, Any]]:
    """Each attestation, its DSSE signature verified by securesystemslib (not hoist's code)."""
    public = serialization.load_pem_public_key((signed.project / "cosign.pub").read_bytes())
    made = SSlibKey.from_crypto(public, scheme="ecdsa-sha2-nistp256")  # type: ignore[arg-type]
    key = SSlibKey("", made.keytype, made.scheme, made.keyval)  # cosign's keyid is empty
    found = {}
    layers = signed.store().read(PATH, attestation_tag(signed.digest))
    assert layers is not None
    for layer in layers:
        envelope = Envelope.from_dict(json.loads(layer.data))
        assert list(envelope.verify([key], 1)) == [""]
        statement = json.loads(envelope.payload)
        found[statement["predicateType"]] = statement
    return found


def test_statements_verify_and_validate_independently(signed: SignedPush) -> None:
    found = _statements(signed)
    assert len(found) == 4
    for statement in found.values():
        proto = json_format.ParseDict(statement, statement_pb2.Statement())
        Statement.copy_from_pb(proto).validate()  # in-toto's own rules for a v1 Statement
        [subject] = statement["subject"]
        assert subject == {"name": signed.repository,
                           "digest": {"sha256": signed.digest.split(":")[1]}}  # fmt: skip
    # SLSA v1's schema, strictly: an unknown or mistyped field fails here
    json_format.ParseDict(found[statements.SLSA_PROVENANCE_V1]["predicate"],
                          provenance_pb2.Provenance())  # fmt: skip


def test_provenance_names_builder_source_config_and_base(
    signed: SignedPush, docker_client, node_base
) -> None:  # type: ignore[no-untyped-def]
    predicate = _statements(signed)[statements.SLSA_PROVENANCE_V1]["predicate"]
    builder = predicate["runDetails"]["builder"]
    assert builder["version"] == {"hoist": "0.1.0", "backend": _auto_backend()}
    definition = predicate["buildDefinition"]
    git = ["git", "rev-parse", "HEAD"]
    revision = subprocess.run(git, cwd=signed.project, capture_output=True, text=True).stdout
    revision = revision.strip()
    assert definition["externalParameters"]["source"]["revision"] == revision
    assert definition["externalParameters"]["source"]["dirty"] is False
    by_name = {d.get("name"): d for d in definition["resolvedDependencies"]}
    config_digest = hashlib.sha256(signed.config.read_bytes()).hexdigest()
    assert by_name["pipeline.yaml"]["digest"] == {"sha256": config_digest}
    base = by_name["base image"]
    stand_in = docker_client.images.get(node_base).id
    assert base["digest"] == {"sha256": stand_in.split(":")[1]}
    assert base["annotations"] == {"digestKind": "image-id", "standIn": node_base}
    assert predicate["runDetails"]["metadata"]["invocationId"].startswith("hoist-run:")


def test_gate_records_the_tools_and_checks_that_ran(signed: SignedPush) -> None:
    predicate = _statements(signed)[statements.GATE_PREDICATE]["predicate"]
    assert predicate["verdict"] == "passed" and predicate["reasons"] == []
    lint, smoke = predicate["gates"]
    assert lint["stage"] == "lint" and lint["tools"] == ["hadolint", "eslint"]
    assert smoke["stage"] == "smoke" and smoke["verdict"] == "passed"
    assert len(smoke["checks"]) == 6 and {c["verdict"] for c in smoke["checks"]} == {"pass"}
    assert {"policy", "service"} <= {c["kind"] for c in smoke["checks"]}


def test_sbom_lists_node_apps_packages_and_validates(signed: SignedPush, tmp_path: Path) -> None:
    found = _statements(signed)
    bom = found["https://cyclonedx.org/bom"]["predicate"]
    validator = JsonStrictValidator(SchemaVersion.from_version(bom["specVersion"]))
    assert validator.validate_str(json.dumps(bom)) is None
    names = {c["name"]: c for c in bom["components"]}
    assert "node-app" in names, sorted(names)[:50]  # the app's own package.json
    assert names["node-app"]["version"] == "1.0.0"
    assert "nodejs" in names  # the base image's Debian package
    spdx_path = tmp_path / "sbom.spdx.json"
    spdx_path.write_text(json.dumps(found["https://spdx.dev/Document"]["predicate"]))
    document = parse_file(str(spdx_path))
    assert validate_full_spdx_document(document) == []
    assert "node-app" in {p.name for p in document.packages}


def _push_other_image(signed: SignedPush, docker_client, tag: str) -> str:  # type: ignore[no-untyped-def]
    """Point ``team/app:TAG`` at a new image hoist never signed; the local image is removed."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\nCOPY other.txt /\n",
                           "other.txt": secrets.token_bytes(32)}.items():  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = docker_client.images.build(fileobj=context, custom_context=True, rm=True)
    try:
        image.tag(signed.repository, tag)
        auth = {"username": signed.registry.username, "password": signed.registry.password}
        digest = None
        for chunk in docker_client.api.push(signed.repository, tag=tag, stream=True,
                                            decode=True, auth_config=auth):  # fmt: skip
            assert "error" not in chunk, chunk
            digest = (chunk.get("aux") or {}).get("Digest") or digest
    finally:
        docker_client.images.remove(image.id, force=True)
    assert digest
    return str(digest)


def test_a_tag_moved_to_another_image_is_refused(signed: SignedPush, docker_client) -> None:  # type: ignore[no-untyped-def]
    other = _push_other_image(signed, docker_client, "moved")

    result = signed.verify(f"{signed.repository}:moved")

    assert result.returncode == 1
    assert _error_line(result) == (
        f"hoist: error: {signed.repository}@{other}: signature: none stored "
        f"(sha256-{other.split(':')[1]}.sig)"
    )
    # copying the good image's signature next to the other digest does not help
    store = signed.store()
    layers = store.read(PATH, signature_tag(signed.digest))
    assert layers is not None
    store.write(PATH, signature_tag(other), layers)
    copied = signed.verify(f"{signed.repository}:moved")
    assert copied.returncode == 1
    assert f"signature: signed payload is for {signed.digest}, not {other}" in _error_line(copied)


def _forge(signed: SignedPush, digest: str, key: Any, predicates: list[tuple[str, Any]]) -> None:
    forge(signed.store(), PATH, signed.repository, digest, key, predicates)


def _own_key(signed: SignedPush) -> Any:
    return keys.load_private_key(signed.private_pem.encode(), signed.password.encode())


def _good_predicates(signed: SignedPush) -> dict[str, Any]:
    return {kind: s["predicate"] for kind, s in _statements(signed).items()}


def test_a_signature_from_another_key_is_refused(signed: SignedPush, docker_client) -> None:  # type: ignore[no-untyped-def]
    other = _push_other_image(signed, docker_client, "stranger")
    stranger = keys.load_private_key(keys.generate_key_pair(b"x").private_pem, b"x")
    _forge(signed, other, stranger, list(_good_predicates(signed).items()))

    result = signed.verify(f"{signed.repository}@{other}")

    assert result.returncode == 1
    line = _error_line(result)
    assert line.startswith(f"hoist: error: {signed.repository}@{other}: signature: ")
    assert "not signed by this key (1 signature(s) checked, key sha256:" in line


def test_a_missing_attestation_is_refused(
    signed: SignedPush, docker_client, tiny_image: str
) -> None:  # type: ignore[no-untyped-def]
    other = _push_other_image(signed, docker_client, "no-sbom")
    good = _good_predicates(signed)
    kept = [(k, v) for k, v in good.items() if "cyclonedx" not in k and "spdx" not in k]
    _forge(signed, other, _own_key(signed), kept)

    result = signed.verify(f"{signed.repository}@{other}")

    assert result.returncode == 1
    assert _error_line(result) == (
        f"hoist: error: {signed.repository}@{other}: sbom: no attestation for this digest"
    )
    assert "signature   ok" in result.stdout  # what held is still said


def test_a_gate_attestation_saying_failed_is_refused(signed: SignedPush, docker_client) -> None:  # type: ignore[no-untyped-def]
    other = _push_other_image(signed, docker_client, "failed-gate")
    good = _good_predicates(signed)
    gate = {**good[statements.GATE_PREDICATE], "verdict": "failed",
            "reasons": ["smoke skipped (--skip-smoke)"]}  # fmt: skip
    _forge(signed, other, _own_key(signed), [*good.items(), (statements.GATE_PREDICATE, gate)])

    result = signed.verify(f"{signed.repository}@{other}")

    assert result.returncode == 1
    assert _error_line(result) == (
        f"hoist: error: {signed.repository}@{other}: gate: verdict failed: "
        "smoke skipped (--skip-smoke)"
    )


def test_a_push_that_skipped_smoke_is_signed_and_refused(signed: SignedPush) -> None:
    """The real path, not a forged statement: --skip-smoke pushes, the gate says so."""
    push = run_invoke("push", "--config", str(signed.config), "--skip-smoke", env=signed.env,
                      cwd=signed.project)  # fmt: skip
    signed.outputs.append(push.stdout + push.stderr)
    assert push.returncode == 0, push.stdout + push.stderr
    state = Path(signed.env["HOIST_STATE_DIR"])
    report = json.loads((state / "reports" / "last.json").read_text())
    signed.images.append(report["image_id"])
    digest = report["pushes"][0]["digest"]
    assert digest != signed.digest  # the io.hoist.smoke=skipped label makes another image

    result = signed.verify(f"{signed.repository}@{digest}")

    assert result.returncode == 1
    assert _error_line(result) == (
        f"hoist: error: {signed.repository}@{digest}: gate: verdict failed: "
        "smoke skipped (--skip-smoke)"
    )


def test_cosigns_own_signed_image_verifies(signed: SignedPush, tmp_path: Path) -> None:
    """An image signature made by `cosign sign` (containers/image's fixture), stored where cosign
    stores it, accepted by `invoke verify` with cosign's public key — and refused with ours."""
    fixture = json.loads((DATA / "image-signatures.json").read_text())
    entry = fixture["dir-img-cosign-valid"]
    digest = "sha256:" + hashlib.sha256(entry["manifest"].encode()).hexdigest()
    payload = base64.b64decode(entry["payload"])
    layer = Layer(payload, entry["mediaType"], {SIGNATURE_ANNOTATION: entry["signature"]})
    signed.store().write(PATH, signature_tag(digest), [layer])
    cosign_pub = tmp_path / "cosign-fixture.pub"
    cosign_pub.write_text(fixture["public_key"])

    accepted = signed.verify(f"{signed.repository}@{digest}", "--key", str(cosign_pub),
                             "--attestations", "none")  # fmt: skip
    refused = signed.verify(f"{signed.repository}@{digest}", "--attestations", "none")

    assert accepted.returncode == 0
    assert accepted.stdout.splitlines()[1].endswith(
        f"signed 192.168.64.2:5000/cosign-signed-single-sample@{digest}"
    )
    assert refused.returncode == 1
    assert "signature: not signed by this key" in _error_line(refused)


def test_no_key_material_in_any_output_file_or_command_line(signed: SignedPush) -> None:
    private = _own_key(signed)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    values = [signed.password, *signed.private_pem.strip().splitlines()[1:-1]]
    assert signed.watch.samples > 10 and signed.watch.seen == []
    joined = "\n".join(signed.outputs)
    assert [v[:6] for v in values if v in joined] == []
    state = Path(signed.env["HOIST_STATE_DIR"])
    assert files_containing([state], values) == []
    # the project: only the key file the user asked for holds the key
    assert files_containing([signed.project], values, skip=("cosign.key",)) == []
    blobs = b"".join(p.read_bytes() for p in state.rglob("*") if p.is_file())
    assert der not in blobs and base64.b64encode(der) not in blobs
    assert (signed.project / "cosign.key").stat().st_mode & 0o077 == 0
