'use strict';

/**
 * In-process tests of the HTTP application: every route, status code and
 * content type, plus the one-log-line-per-request contract. Each test gets its
 * own server on an ephemeral port of 127.0.0.1 and closes it afterwards.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { createApp } = require('../src/app');
const pkg = require('../package.json');

/** One request on a fresh connection; resolves to { status, headers, body, json }. */
function request(port, method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        const json = body ? JSON.parse(body) : undefined;
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Start an app on port 0; returns { port, lines, close }. */
async function startApp(options = {}) {
  const lines = [];
  const server = createApp({ log: (line) => lines.push(line), ...options });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    lines,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('node-app routes', () => {
  let app;
  before(async () => {
    app = await startApp();
  });
  after(() => app.close());

  it('GET / describes the service as JSON', async () => {
    const res = await request(app.port, 'GET', '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
    assert.equal(res.json.service, 'node-app');
    assert.equal(res.json.version, process.env.APP_VERSION || pkg.version);
    assert.equal(typeof res.json.message, 'string');
  });

  it('GET /healthz answers {"status":"ok"}', async () => {
    const res = await request(app.port, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.json, { status: 'ok' });
  });

  it('ignores the query string when routing', async () => {
    const res = await request(app.port, 'GET', '/healthz?probe=docker');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  for (const path of ['/nope', '/healthz/', '//healthz', '/constructor', '/__proto__']) {
    it(`GET ${path} is a 404 with a JSON body`, async () => {
      const res = await request(app.port, 'GET', path);
      assert.equal(res.status, 404);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(res.json, { error: 'not found', path });
    });
  }

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    it(`${method} /healthz is a 405 that names the allowed method`, async () => {
      const res = await request(app.port, method, '/healthz');
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET');
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(res.json, { error: 'method not allowed', method });
    });
  }

  it('HEAD / is a 405 too: only GET is served', async () => {
    const res = await request(app.port, 'HEAD', '/');
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET');
  });
});

describe('node-app version', () => {
  it('reports the version it was given', async () => {
    const app = await startApp({ version: '9.9.9-test' });
    try {
      const res = await request(app.port, 'GET', '/');
      assert.equal(res.json.version, '9.9.9-test');
    } finally {
      await app.close();
    }
  });

  it('prefers APP_VERSION over package.json', async () => {
    const saved = process.env.APP_VERSION;
    process.env.APP_VERSION = '2.0.0-env';
    try {
      const app = await startApp();
      try {
        const res = await request(app.port, 'GET', '/');
        assert.equal(res.json.version, '2.0.0-env');
      } finally {
        await app.close();
      }
    } finally {
      if (saved === undefined) delete process.env.APP_VERSION;
      else process.env.APP_VERSION = saved;
    }
  });
});

describe('node-app request log', () => {
  it('logs exactly one line per request: method, path, status, duration', async () => {
    const app = await startApp();
    try {
      await request(app.port, 'GET', '/healthz?probe=1');
      await request(app.port, 'POST', '/');
      await request(app.port, 'GET', '/missing');
      // The line is written when the response closes, which can trail the client's 'end'.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(app.lines.length, 3, app.lines.join('\n'));
      assert.match(app.lines[0], /^GET \/healthz 200 \d+\.\dms$/);
      assert.match(app.lines[1], /^POST \/ 405 \d+\.\dms$/);
      assert.match(app.lines[2], /^GET \/missing 404 \d+\.\dms$/);
    } finally {
      await app.close();
    }
  });
});
