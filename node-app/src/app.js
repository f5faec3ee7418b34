'use strict';

/**
 * The HTTP application of node-app: routes, JSON responses and request logging.
 *
 * Kept apart from the entry point (src/server.js) so tests can create a server,
 * listen on port 0 and close it again without signals or process-wide state.
 * Only Node's built-in `http` module is used: the image installs no npm packages,
 * because containers built here cannot download anything.
 */

const http = require('node:http');

const pkg = require('../package.json');

const SERVICE = pkg.name;

/**
 * Send `body` as JSON with an explicit length, so keep-alive clients and
 * health probes never have to guess where the response ends.
 */
function sendJson(res, status, body, headers = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(payload);
}

/**
 * Path without the query string; requests are routed and logged by it.
 * (Not `new URL()`: it would read `//healthz` as a host name plus `/`.)
 */
function pathOf(req) {
  const query = req.url.indexOf('?');
  return query === -1 ? req.url : req.url.slice(0, query);
}

/**
 * Create the node-app HTTP server (not yet listening).
 *
 * @param {object} [options]
 * @param {string} [options.version] version reported by `GET /`; defaults to
 *   the APP_VERSION environment variable, then to package.json's version.
 * @param {(line: string) => void} [options.log] receives one line per request;
 *   defaults to stdout.
 * @returns {http.Server}
 */
function createApp(options = {}) {
  const version = options.version || process.env.APP_VERSION || pkg.version;
  const log = options.log || ((line) => console.log(line));

  const routes = {
    '/': () => ({ service: SERVICE, version, message: `Hello from ${SERVICE}` }),
    '/healthz': () => ({ status: 'ok' }),
  };

  return http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const path = pathOf(req);

    // 'close' fires once per response, whether it finished or the client went away,
    // so this is exactly one log line per request.
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const aborted = res.writableFinished ? '' : ' (aborted)';
      log(`${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms${aborted}`);
    });

    const route = Object.prototype.hasOwnProperty.call(routes, path) ? routes[path] : null;
    if (!route) {
      sendJson(res, 404, { error: 'not found', path });
    } else if (req.method !== 'GET') {
      sendJson(res, 405, { error: 'method not allowed', method: req.method }, { Allow: 'GET' });
    } else {
      sendJson(res, 200, route());
    }
  });
}

module.exports = { createApp };
