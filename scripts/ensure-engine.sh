#!/usr/bin/env bash
# Make sure a Docker Engine answers, installing and starting Debian's docker.io when it does not.
#
# Why a script and not a Python task: it runs before the virtualenv exists and may need root.
# On a machine whose processes were all killed, the engine is installed but stopped and has left
# a stale pidfile and socket behind; dockerd refuses to start over a live-looking pidfile, so
# both are removed once we know no dockerd process owns them.
set -euo pipefail

log=${HOIST_DOCKERD_LOG:-/var/log/hoist-dockerd.log}

engine_answers() { docker info >/dev/null 2>&1 || curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

if engine_answers; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
  echo "hoist: no Docker Engine answers. Start one (e.g. 'sudo systemctl start docker'," >&2
  echo "       or install Docker Engine: https://docs.docker.com/engine/install/) and run make again." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "hoist: installing Debian's docker.io (Docker Engine)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

pidfile=/var/run/docker.pid
if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  rm -f "$pidfile"
fi
if [ ! -f "$pidfile" ]; then
  rm -f /var/run/docker.sock
  echo "hoist: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    exit 0
  fi
  sleep 0.5
done
echo "hoist: dockerd did not answer within 30 s; see $log" >&2
exit 1
