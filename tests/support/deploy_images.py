"""Small node-app images for the deploy tests, built on the first engine and pushed for real.

Test support, not library code. Every image is ``FROM`` the offline node base the pipeline
itself uses (the ``node_base`` fixture), so after the first push all later ones share its
layers. The deploy tests run them on a second engine's host network, where an app must listen
on 127.0.0.1 only: ``loopback.js`` is preloaded (``NODE_OPTIONS=--require``) and binds every
``listen(port)`` there, leaving node-app's own code — including its graceful SIGTERM shutdown,
which the outage figure depends on — untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

LOOPBACK_JS = """\
'use strict';
// Test-only preload: on the host network, listen on 127.0.0.1 and nowhere else.
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || /^[0-9]+$/.test(String(args[0]))) {
    return listen.call(this, Number(args[0]), '127.0.0.1', ...args.slice(1).filter(
      (a) => typeof a === 'function'));
  }
  return listen.apply(this, args);
};
"""

# Answers 500 everywhere: a new version that starts but never becomes healthy.
BROKEN_JS = """\
'use strict';
console.log('broken build: answering 500 to every request');
const server = require('node:http').createServer((req, res) => {
  res.writeHead(500, { 'Content-Type': 'application/json' });
  res.end('{"status":"broken"}');
});
server.listen(Number(process.env.PORT || 3000));
process.on('SIGTERM', () => process.exit(0));
"""

# Healthy on any port but BREAK_ON_PORT: passes on the temporary port, fails on the live one.
BREAKS_ON_LIVE_JS = """\
'use strict';
const port = Number(process.env.PORT || 3000);
const ok = process.env.BREAK_ON_PORT !== String(port);
const server = require('node:http').createServer((req, res) => {
  res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ status: ok ? 'ok' : 'failing', version: 'breaks-on-live' }));
});
server.listen(port);
process.on('SIGTERM', () => process.exit(0));
"""

DOCKERFILE = """\
FROM {base}
WORKDIR /app
COPY package.json ./
COPY src/ ./src/
COPY test-js/ /opt/test-js/
ENV NODE_ENV=production NODE_OPTIONS="--require /opt/test-js/loopback.js" APP_VERSION={version}
LABEL org.opencontainers.image.revision={revision}
USER 1000:1000
CMD {cmd}
"""

VARIANTS = {
    "v1": ("1.0.0", '["node", "src/server.js"]'),
    "v2": ("2.0.0", '["node", "src/server.js"]'),
    "broken": ("9.9.9", '["node", "/opt/test-js/broken.js"]'),
    "breaks-on-live": ("8.8.8", '["node", "/opt/test-js/breaks-on-live.js"]'),
}


def build_and_push(
    client: Any, base: str, repository: str, auth: Mapping[str, str], revision: str
) -> dict[str, str]:
    """Build every variant FROM ``base``, push it as ``repository:NAME``; returns name ->
    manifest digest. The images stay tagged for the caller to remove. No build cache: another
    session's identical build may prune the intermediate layers a cached build would reuse."""
    digests = {}
    with tempfile.TemporaryDirectory(prefix="hoist-deploy-img-") as tmp:
        context = Path(tmp)
        shutil.copy(REPO / "node-app" / "package.json", context / "package.json")
        shutil.copytree(REPO / "node-app" / "src", context / "src")
        scripts = context / "test-js"
        scripts.mkdir()
        (scripts / "loopback.js").write_text(LOOPBACK_JS)
        (scripts / "broken.js").write_text(BROKEN_JS)
        (scripts / "breaks-on-live.js").write_text(BREAKS_ON_LIVE_JS)
        for name, (version, cmd) in VARIANTS.items():
            (context / "Dockerfile").write_text(
                DOCKERFILE.format(base=base, version=version, revision=revision, cmd=cmd)
            )
            image, _ = client.images.build(path=str(context), rm=True, forcerm=True, nocache=True)
            digests[name] = _push(client, image, repository, name, auth)
    return digests


# For the swarm tests: node-app's own Dockerfile (its HEALTHCHECK is what swarm gates on), then
# versions on top of it. They run in their own network namespaces: no loopback preload.
SERVICE_VARIANTS = {
    "v1": "ENV APP_VERSION=1.0.0\nLABEL org.opencontainers.image.revision={revision}\n",
    "v2": "ENV APP_VERSION=2.0.0\nLABEL org.opencontainers.image.revision={revision}\n",
    "broken": 'COPY broken.js /opt/broken.js\nCMD ["node", "/opt/broken.js"]\n',
}


def build_and_push_service_images(
    client: Any, base: str, repository: str, auth: Mapping[str, str], revision: str
) -> dict[str, str]:
    """node-app as its Dockerfile builds it on ``base`` (the ``node_base`` fixture), and v1,
    v2, broken on top; name -> digest."""
    app, _ = client.images.build(
        path=str(REPO / "node-app"),
        buildargs={"BASE_IMAGE": base},
        rm=True,
        forcerm=True,
        nocache=True,
    )
    app.tag(repository, "node-app")
    digests = {}
    with tempfile.TemporaryDirectory(prefix="hoist-swarm-img-") as tmp:
        context = Path(tmp)
        (context / "broken.js").write_text(BROKEN_JS)
        for name, lines in SERVICE_VARIANTS.items():
            dockerfile = f"FROM {repository}:node-app\n" + lines.format(revision=revision)
            (context / "Dockerfile").write_text(dockerfile)
            image, _ = client.images.build(path=str(context), rm=True, forcerm=True)
            digests[name] = _push(client, image, repository, name, auth)
    return digests


def _push(client: Any, image: Any, repository: str, tag: str, auth: Mapping[str, str]) -> str:
    image.tag(repository, tag)
    stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=dict(auth))
    return _digest(stream, f"{repository}:{tag}")


def _digest(stream: Iterable[Mapping[str, Any]], reference: str) -> str:
    digest = None
    for chunk in stream:
        if "error" in chunk:
            raise RuntimeError(f"push of {reference} failed: {chunk['error']}")
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
    if digest is None:
        raise RuntimeError(f"push of {reference} reported no digest")
    return digest
