#!/usr/bin/env bash
# The hand-written delivery script hoist replaces: lint, build, smoke test, push — with the
# docker CLI, the way a competent engineer writes it for CI. The benchmark runs it against
# the same app and the same registries as hoist (see bench/README.md).
#
#   APP_DIR      the app: Dockerfile, .hadolint.yaml, eslint config, node_modules (npm ci)
#   IMAGE        local image name, e.g. bench/app
#   REGISTRIES   space-separated registry hosts, e.g. "127.0.0.1:5000 127.0.0.1:5001"
#   REPOSITORY   repository path in each registry, e.g. baseline/app
#   REGISTRY_USERNAME, REGISTRY_PASSWORD   the registries' login
#   BASE_IMAGE   build arg for the Dockerfile's FROM (the offline stand-in here)
#   PORT=3000 HEALTH_PATH=/healthz READY_TIMEOUT=30
#
# Readiness is polled every 0.1 s, and each registry is logged in to once per machine (when
# the docker config holds no login for it yet), as people write it. The only concession to the
# benchmark: when BENCH_TIMES names a file, each phase appends "phase seconds" to it (bash's
# $EPOCHREALTIME in microseconds: no extra process).
set -euo pipefail

: "${APP_DIR:?}" "${IMAGE:?}" "${REGISTRIES:?}" "${REPOSITORY:?}"
: "${REGISTRY_USERNAME:?}" "${REGISTRY_PASSWORD:?}"
PORT=${PORT:-3000}
HEALTH_PATH=${HEALTH_PATH:-/healthz}
READY_TIMEOUT=${READY_TIMEOUT:-30}
HADOLINT=${HADOLINT:-hadolint}

phase_started=
phase() { # phase NAME: end the previous phase's timer, start this one
  local now=${EPOCHREALTIME/./}
  if [ -n "${BENCH_TIMES:-}" ] && [ -n "$phase_started" ]; then
    local us=$((now - phase_started))
    printf '%s %d.%06d\n' "$phase_name" $((us / 1000000)) $((us % 1000000)) >>"$BENCH_TIMES"
  fi
  phase_name=$1 phase_started=$now
  [ "$1" = end ] || echo "==> $1"
}

cd "$APP_DIR"
sha=$(git rev-parse --short=7 HEAD)
branch=$(git rev-parse --abbrev-ref HEAD)
tags=("sha-$sha" "$branch")

phase lint
"$HADOLINT" --config .hadolint.yaml Dockerfile
./node_modules/.bin/eslint --max-warnings=0 .

phase build
docker build \
  --build-arg "BASE_IMAGE=${BASE_IMAGE:-node:20-bookworm-slim}" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
  --label "org.opencontainers.image.source=$(git remote get-url origin 2>/dev/null || pwd)" \
  -t "$IMAGE:${tags[0]}" -t "$IMAGE:${tags[1]}" .

phase smoke
container=$(docker run -d -p "127.0.0.1::$PORT" "$IMAGE:${tags[0]}")
trap 'docker rm -f "$container" >/dev/null' EXIT
host_port=$(docker port "$container" "$PORT/tcp" | head -n1)
url="http://$host_port$HEALTH_PATH"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS --max-time 2 -o /dev/null "$url"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "not ready within $READY_TIMEOUT s" >&2
    docker logs --tail 30 "$container" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS --max-time 5 "$url" | grep -q '"status": *"ok"'
docker rm -f "$container" >/dev/null
trap - EXIT

phase push
docker_config=${DOCKER_CONFIG:-$HOME/.docker}/config.json
for registry in $REGISTRIES; do
  if ! grep -qF "\"$registry\"" "$docker_config" 2>/dev/null; then
    echo "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USERNAME" --password-stdin "$registry"
  fi
  for tag in "${tags[@]}"; do
    docker tag "$IMAGE:$tag" "$registry/$REPOSITORY:$tag"
    docker push "$registry/$REPOSITORY:$tag"
  done
done

phase end
