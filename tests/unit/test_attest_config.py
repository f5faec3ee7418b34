"""``signing:`` in pipeline.yaml and the key material it points at: defaults, one-line errors
that name the field and the reference (never a value), and the ``required: false`` escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.attest import keys
from pipeline.attest.check import lending_targets, parse_reference
from pipeline.attest.material import load_signer, load_verifier
from pipeline.attest.settings import KeyRef
from pipeline.errors import ConfigError
from pipeline.project import load_config
from pipeline.push.registries.base import TargetConfig
from pipeline.secrets import redact


def config(tmp_path: Path, signing: str) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"image: team/app\nbuild: {{context: app}}\nsigning:\n{signing}")
    return path


def test_without_a_signing_section_nothing_is_signed(tmp_path: Path) -> None:
    path = config(tmp_path, "")
    path.write_text("image: team/app\nbuild: {context: app}\n")
    assert load_config(path).signing is None


def test_defaults_are_cosigns_github_secrets(tmp_path: Path) -> None:
    signing = load_config(config(tmp_path, "  public_key: keys/cosign.pub\n")).signing
    assert signing is not None
    assert str(signing.key) == "env://COSIGN_PRIVATE_KEY"
    assert str(signing.password) == "env://COSIGN_PASSWORD"
    assert signing.public_key == KeyRef(path=tmp_path / "keys" / "cosign.pub")
    assert signing.attestations == ("sbom", "provenance", "gate")
    assert signing.sbom == ("cyclonedx",) and signing.required is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  attestations: [sbom, vulns]\n",
         "signing.attestations: unknown attestation 'vulns' (one of sbom, provenance, gate)"),
        ("  sbom: [syft]\n", "signing.sbom: unknown sbom 'syft' (one of cyclonedx, spdx)"),
        ("  key: env://\n", "signing.key: env:// needs a variable name, e.g. env://COSIGN_PASSWORD"),
        ("  keyfile: x\n", "signing.keyfile: unknown key (allowed keys here: key, password, "
                           "public_key, attestations, sbom, required)"),
        ("  required: maybe\n", "signing.required: expected true or false, got a string ('maybe')"),
    ],
)  # fmt: skip
def test_bad_signing_settings_are_one_line(tmp_path: Path, body: str, message: str) -> None:
    path = config(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_the_signing_key_loads_from_the_environment_and_is_masked(tmp_path: Path) -> None:
    signing = load_config(config(tmp_path, "  required: true\n")).signing
    assert signing is not None
    pair = keys.generate_key_pair(b"s3cret-pass")
    environ = {"COSIGN_PRIVATE_KEY": pair.private_pem.decode(), "COSIGN_PASSWORD": "s3cret-pass"}
    key = load_signer(signing, environ, "pipeline.yaml")
    assert key is not None and keys.public_pem(key.public_key()) == pair.public_pem
    line = pair.private_pem.decode().splitlines()[1]
    assert redact(f"x {line} s3cret-pass") == "x *** ***"


def test_missing_or_wrong_key_material_names_the_reference_only(tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("right-password\n")
    signing = load_config(config(tmp_path, "  password: pw.txt\n")).signing
    assert signing is not None
    with pytest.raises(ConfigError) as caught:
        load_signer(signing, {}, "pipeline.yaml")
    assert str(caught.value) == (
        "pipeline.yaml: signing.key: env://COSIGN_PRIVATE_KEY is not set (set COSIGN_PRIVATE_KEY)"
    )
    wrong = keys.generate_key_pair(b"another-password").private_pem.decode()
    with pytest.raises(ConfigError) as caught:
        load_signer(signing, {"COSIGN_PRIVATE_KEY": wrong}, "pipeline.yaml")
    assert str(caught.value) == (
        "pipeline.yaml: signing.key: env://COSIGN_PRIVATE_KEY: cannot decrypt the private key: "
        "wrong password (check COSIGN_PASSWORD)"
    )
    assert "right-password" not in str(caught.value)
    good = keys.generate_key_pair(b"right-password").private_pem.decode()  # file's newline cut
    assert load_signer(signing, {"COSIGN_PRIVATE_KEY": good}, "pipeline.yaml") is not None


def test_required_false_signs_nothing_without_the_key_variable(tmp_path: Path) -> None:
    signing = load_config(config(tmp_path, "  required: false\n")).signing
    assert signing is not None
    assert load_signer(signing, {"COSIGN_PRIVATE_KEY": ""}, "pipeline.yaml") is None
    with pytest.raises(ConfigError, match="COSIGN_PASSWORD is not set"):
        load_signer(signing, {"COSIGN_PRIVATE_KEY": "x"}, "pipeline.yaml")


def test_a_public_key_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cosign.pub").write_text(
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_verifier(KeyRef(path=tmp_path / "cosign.pub"), {}, "--key", None)
    assert str(caught.value) == (
        f"--key: {tmp_path / 'cosign.pub'}: not a PEM public key (expected cosign.pub's "
        "PUBLIC KEY block)"
    )


def test_verify_resolves_no_embedded_registry_it_would_have_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOIST_STATE_DIR", str(tmp_path / "state"))
    configured = [
        TargetConfig(kind="local", name="local"),
        TargetConfig(kind="generic", name="team", repository="registry.example.com/team/app"),
    ]
    [target] = lending_targets(configured, "app", {})
    assert (target.name, target.endpoint, target.path) == (
        "team",
        "registry.example.com",
        "team/app",
    )
    assert not (tmp_path / "state").exists()


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:5000/team/app:v1", ("127.0.0.1:5000", "team/app", "v1", None)),
        (f"ghcr.io/acme/app@{DIGEST}", ("ghcr.io", "acme/app", None, DIGEST)),
        ("localhost/app", ("localhost", "app", None, None)),
    ],
)  # fmt: skip
def test_references(text: str, parsed: tuple[str, str, str | None, str | None]) -> None:
    assert parse_reference(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acme/app:v1", "REF: 'acme/app:v1' is not HOST/PATH[:TAG][@sha256:...]"),
        ("ghcr.io/acme/app@sha256:xyz", "REF: 'sha256:xyz' is not sha256: and 64 hex digits"),
    ],
)
def test_bad_references_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_reference(text)
    assert str(caught.value) == message
