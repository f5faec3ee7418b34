"""``invoke login`` writes what ``docker login`` writes: base64 ``auths`` in config.json, or a
credential helper when ``credsStore`` names one (a real helper program, made here)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from pipeline.push.registries import credstore
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import Credentials, resolve_target

HELPER = """#!/bin/sh
# docker-credential-hoisttest: the credential-helper protocol, stored in a JSON file.
store="$HELPER_STORE"
[ -f "$store" ] || echo '{}' > "$store"
case "$1" in
  store) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); i=json.load(sys.stdin);
d[i["ServerURL"]]=[i["Username"],i["Secret"]]; json.dump(d,open(sys.argv[1],"w"))' "$store" ;;
  get) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); k=sys.stdin.read().strip()
if k not in d: print("credentials not found in native keychain"); sys.exit(1)
print(json.dumps({"ServerURL":k,"Username":d[k][0],"Secret":d[k][1]}))' "$store" ;;
  erase) python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
d.pop(sys.stdin.read().strip(),None); json.dump(d,open(sys.argv[1],"w"))' "$store" ;;
esac
"""


def _target(kind: str, repository: str, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    return resolve_target(TargetConfig(kind, kind, repository, endpoint), "app", {})


def test_auths_entry_round_trip_keeps_other_entries(tmp_path: Path) -> None:
    environ = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"other.io": {"auth": "eDp5"}}, "psFormat": "x"}))
    target = _target("generic", "harbor.example.com/team/app")
    assert credstore.write(target, Credentials("robot", "s3cret"), environ) == str(config)
    data = json.loads(config.read_text())
    assert base64.b64decode(data["auths"]["harbor.example.com"]["auth"]) == b"robot:s3cret"
    assert data["psFormat"] == "x" and "other.io" in data["auths"]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert credstore.read(target, environ).password == "s3cret"  # type: ignore[union-attr]
    assert credstore.erase(target, environ) is True
    assert credstore.erase(target, environ) is False
    assert list(json.loads(config.read_text())["auths"]) == ["other.io"]


def test_docker_hub_is_filed_under_its_legacy_key(tmp_path: Path) -> None:
    environ = {"DOCKER_CONFIG": str(tmp_path)}
    credstore.write(_target("dockerhub", "acme/app"), Credentials("acme", "t0ken"), environ)
    auths = json.loads((tmp_path / "config.json").read_text())["auths"]
    assert list(auths) == ["https://index.docker.io/v1/"]
    endpoint = _target("dockerhub", "acme/app", endpoint="127.0.0.1:5000")
    assert credstore.server_key(endpoint.endpoint) == "127.0.0.1:5000"


def test_credential_helper_is_used_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-hoisttest"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HELPER_STORE", str(tmp_path / "helper.json"))
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credsStore": "hoisttest"}))
    environ = {"DOCKER_CONFIG": str(docker)}
    target = _target("generic", "harbor.example.com/team/app")

    where = credstore.write(target, Credentials("robot", "s3cret"), environ)
    assert where == "docker-credential-hoisttest"
    assert "s3cret" not in (docker / "config.json").read_text()
    assert json.loads((tmp_path / "helper.json").read_text()) == {
        "harbor.example.com": ["robot", "s3cret"]
    }
    assert credstore.read(target, environ).password == "s3cret"  # type: ignore[union-attr]
    assert credstore.erase(target, environ) is True
    assert json.loads((tmp_path / "helper.json").read_text()) == {}
