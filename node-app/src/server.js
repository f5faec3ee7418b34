'use strict';

/**
 * Entry point of node-app: read the environment, listen, and shut down cleanly.
 *
 * In a container this process is PID 1, and the kernel gives PID 1 no default
 * signal actions: without the handlers below `docker stop` would wait for its
 * timeout and then SIGKILL the service. On SIGTERM or SIGINT the server stops
 * accepting connections, lets in-flight requests finish and exits with code 0.
 * If that takes longer than SHUTDOWN_TIMEOUT_MS, the remaining connections are
 * cut and the exit code is 1, so an unclean stop is visible.
 *
 * Environment: PORT (default 3000), APP_VERSION (default: package.json's
 * version), SHUTDOWN_TIMEOUT_MS (default 5000, below Docker's 10 s stop timeout).
 */

const { createApp } = require('./app');

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`node-app: ${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const port = intFromEnv('PORT', 3000);
const shutdownTimeoutMs = intFromEnv('SHUTDOWN_TIMEOUT_MS', 5000);

const server = createApp();

server.on('error', (err) => {
  console.error(`node-app: cannot listen on port ${port}: ${err.message}`);
  process.exit(1);
});

server.listen(port, () => {
  // The real port matters when PORT=0: tests read it from this line.
  console.log(`node-app listening on port ${server.address().port}`);
});

let stopping = false;

function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`node-app received ${signal}, shutting down`);

  // Requests still arriving on open keep-alive connections are answered, then
  // their connection is closed instead of being kept for reuse.
  server.prependListener('request', (req, res) => res.setHeader('Connection', 'close'));

  server.close((err) => {
    if (err) console.error(`node-app: error while closing: ${err.message}`);
    console.log('node-app stopped');
    process.exit(err ? 1 : 0);
  });
  // Node 18 does not drop idle keep-alive connections on close(); Node 19+ does.
  server.closeIdleConnections();

  setTimeout(() => {
    console.error(`node-app: connections still open after ${shutdownTimeoutMs} ms, closing them`);
    server.closeAllConnections();
    process.exit(1);
  }, shutdownTimeoutMs).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
