"""Helpers for the smoke and structure tests: small real images and a smoke run with cleanup
checks. Every image is built ``FROM hoist-offline/node:bookworm`` (the offline base; the
fixture that builds images requests ``node_base``), tagged with a unique name and removed by
the fixture that built it."""

from __future__ import annotations

import io
import json
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker

from pipeline.errors import StageFailed
from pipeline.project import parse_config
from pipeline.smoke.settings import SmokeConfig
from pipeline.smoke.stage import RUN_LABEL, SmokeResult, smoke_test

BASE = "hoist-offline/node:bookworm"

# A tiny configurable service: behaviour comes from the environment, so one image serves the
# passing and the failing cases. /slow waits SLOW_MS; SIGTERM is ignored with IGNORE_SIGTERM=1
# (PID 1 has no default action for it), and TERM_EXIT sets the exit code on a clean stop.
SERVER_JS = r"""
const http = require('node:http');
const slowMs = Number(process.env.SLOW_MS || 0);
const server = http.createServer((req, res) => {
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/healthz') return send(200, { status: 'ok' });
  if (req.url === '/slow') return setTimeout(() => send(200, { slow: true }), slowMs);
  if (req.url === '/items') return send(200, { data: { items: [{ id: 7, tags: ['a'] }] },
    ok: true, count: 1 }, { 'X-Api-Version': 'v1' });
  if (req.url === '/echo' && req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    return req.on('end', () => send(201, { got: JSON.parse(body || 'null') }));
  }
  return send(404, { error: 'not found' });
});
server.listen(3000, () => console.log('test-service listening on 3000'));
if (process.env.IGNORE_SIGTERM !== '1') {
  process.on('SIGTERM', () => {
    console.log('test-service got SIGTERM');
    server.close(() => process.exit(Number(process.env.TERM_EXIT || 0)));
  });
}
"""

SERVICE_DOCKERFILE = f"""\
FROM {BASE}
WORKDIR /srv
COPY server.js ./
USER 1000:1000
EXPOSE 3000
CMD ["node", "server.js"]
"""


def build_image(
    client: docker.DockerClient, dockerfile: str, files: dict[str, str] | None = None
) -> str:
    """Build a context made of ``dockerfile`` and ``files``; return its unique tag.

    Without the build cache: the engine is shared, and another session building the same
    Dockerfile (the same tests) removes its image with force, pruning the intermediate layers
    a cached build here would be standing on ("failed to get digest ... no such file")."""
    tag = f"hoist-test/smoke-{secrets.token_hex(4)}:test"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, text in {"Dockerfile": dockerfile, **(files or {})}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(
        fileobj=context,
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
        pull=False,
        nocache=True,
    )
    return tag


def remove_image(client: docker.DockerClient, tag: str) -> None:
    client.images.remove(tag, force=True)


def images(client: docker.DockerClient, *dockerfiles: str, **files: str) -> Iterator[list[str]]:
    """Build several images for a module; remove them all afterwards."""
    built: list[str] = []
    try:
        for dockerfile in dockerfiles:
            built.append(build_image(client, dockerfile, files))
        yield built
    finally:
        for tag in built:
            remove_image(client, tag)


def smoke_config(project: Path, smoke: dict, files: dict[str, str] | None = None) -> SmokeConfig:  # type: ignore[type-arg]
    """``smoke:`` as pipeline.yaml would hold it, validated by the real config loader."""
    (project / "Dockerfile").write_text(f"FROM {BASE}\n")
    for name, text in (files or {}).items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    data = {"image": "hoist-test/smoke", "build": {"context": "."}, "smoke": smoke}
    return parse_config(data, project / "pipeline.yaml", "pipeline.yaml").smoke


@dataclass
class Run:
    lines: list[str] = field(default_factory=list)
    result: SmokeResult | None = None
    error: StageFailed | None = None
    junit: Path | None = None

    def line(self, prefix: str) -> str:
        """The one output line that starts with ``prefix`` (e.g. "FAIL  service: slow")."""
        matches = [line for line in self.lines if line.startswith(prefix)]
        assert len(matches) == 1, (prefix, self.lines)
        return matches[0]


def run_smoke(client: docker.DockerClient, image: str, smoke: SmokeConfig, tmp: Path) -> Run:
    """One smoke stage; asserts it left no container or image of its run behind."""
    run_id = f"test-{secrets.token_hex(4)}"
    run = Run(junit=tmp / f"junit-{run_id}.xml")
    image_id = client.images.get(image).id
    try:
        run.result = smoke_test(client, image_id, smoke, run_id, run.lines.append, junit=run.junit)
    except StageFailed as exc:
        run.error = exc
    label = {"label": f"{RUN_LABEL}={run_id}"}
    assert client.containers.list(all=True, filters=label) == []
    assert client.images.list(filters=label) == []
    return run


def assert_run_left_nothing(client: docker.DockerClient, state: dict[str, str]) -> None:
    """No container or image labelled with the last `invoke` run's id (by label, not a global
    count: other test sessions may run containers on the same engine meanwhile)."""
    report = Path(state["HOIST_STATE_DIR"]) / "reports" / "last.json"
    run_id = json.loads(report.read_text())["run_id"]
    label = {"label": f"{RUN_LABEL}={run_id}"}
    assert client.containers.list(all=True, filters=label) == []
    assert client.images.list(filters=label) == []
