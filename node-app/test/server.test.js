'use strict';

/**
 * Tests of the real entry point, src/server.js, run as a child process the way
 * a container runs it: it must announce its port, serve, and on SIGTERM or
 * SIGINT stop within a few seconds with exit code 0, even while a client holds
 * an idle keep-alive connection open.
 */

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');

const ENTRY = path.join(__dirname, '..', 'src', 'server.js');

/** Spawn the entry point on an ephemeral port; resolves once it is listening. */
function startServer(env = {}) {
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output.stderr += chunk));

  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });

  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.stderr}`)), 5000);
    child.stdout.on('data', () => {
      const match = /listening on port (\d+)/.exec(output.stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.stderr}`));
    });
  });

  return { child, output, exited, listening };
}

/** Resolve with the exit of a child, or reject if it takes longer than `ms`. */
function exitWithin(server, ms) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      server.child.kill('SIGKILL');
      reject(new Error(`server still running ${ms} ms after the signal:\n${server.output.stdout}`));
    }, ms);
  });
  return Promise.race([server.exited, timeout]).finally(() => clearTimeout(timer));
}

function get(port, urlPath, agent = false) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(body) }));
      })
      .on('error', reject);
  });
}

describe('src/server.js', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`serves, then exits 0 on ${signal}`, async () => {
      const server = startServer();
      const port = await server.listening;

      const res = await get(port, '/healthz');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { status: 'ok' });

      server.child.kill(signal);
      const { code, signal: killedBy } = await exitWithin(server, 3000);
      assert.equal(killedBy, null);
      assert.equal(code, 0, server.output.stderr);
      assert.match(server.output.stdout, /^GET \/healthz 200 \d+\.\dms$/m);
      assert.match(server.output.stdout, new RegExp(`received ${signal}, shutting down`));
      assert.equal(server.output.stderr, '');
    });
  }

  it('does not wait for idle keep-alive connections when stopping', async () => {
    // A long shutdown timeout: only a clean close can exit within the deadline below.
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '30000' });
    const port = await server.listening;
    const agent = new http.Agent({ keepAlive: true });
    try {
      const res = await get(port, '/', agent);
      assert.equal(res.status, 200);
      assert.equal(agent.freeSockets[Object.keys(agent.freeSockets)[0]].length, 1);

      server.child.kill('SIGTERM');
      const { code } = await exitWithin(server, 3000);
      assert.equal(code, 0, server.output.stderr);
    } finally {
      agent.destroy();
    }
  });

  it('refuses an invalid PORT with a clear message', async () => {
    const server = startServer({ PORT: 'http' });
    await assert.rejects(server.listening, /exited with 2/);
    assert.match(server.output.stderr, /PORT must be a non-negative integer/);
  });
});
