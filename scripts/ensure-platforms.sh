#!/usr/bin/env bash
# Make this host run foreign-platform containers (qemu user emulation through binfmt_misc),
# only for the platforms asked for and only when they are not the host's own:
#   scripts/ensure-platforms.sh linux/arm64 [linux/amd64 ...]
# Installs qemu-user-static and binfmt-support when missing, mounts binfmt_misc when it is
# not mounted, and enables each needed qemu-<arch> handler. Without arguments it reads
# build.platforms from pipeline.yaml (HOIST_CONFIG or ./pipeline.yaml, read with $PYTHON,
# which needs PyYAML: make passes the venv's); nothing to do is the common case, costing nothing.
set -euo pipefail

declare -A qemu_for=([linux/arm64]=aarch64 [linux/arm64/v8]=aarch64 [linux/amd64]=x86_64
                     [linux/arm/v7]=arm [linux/ppc64le]=ppc64le [linux/s390x]=s390x [linux/riscv64]=riscv64)
platforms=("$@")
if [ ${#platforms[@]} -eq 0 ]; then
  config=${HOIST_CONFIG:-pipeline.yaml}
  [ -f "$config" ] || exit 0
  mapfile -t platforms < <("${PYTHON:-python3}" - "$config" <<'PY'
import sys, yaml
data = yaml.safe_load(open(sys.argv[1])) or {}
build = data.get("build") or {}
for platform in (build.get("platforms") or []) if isinstance(build, dict) else []:
    print(platform)
PY
)
fi
host=$(uname -m)
needed=()
for platform in "${platforms[@]}"; do
  arch=${qemu_for[$platform]:-}
  if [ -z "$arch" ]; then
    echo "hoist: no qemu emulation known for $platform (one of: ${!qemu_for[*]})" >&2; exit 2
  fi
  [ "$arch" = "$host" ] || needed+=("$arch")
done
[ ${#needed[@]} -eq 0 ] && exit 0

if ! command -v update-binfmts >/dev/null 2>&1 || ! [ -x "/usr/bin/qemu-${needed[0]}-static" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "hoist: ${needed[*]} emulation needs qemu-user-static and binfmt-support; install them." >&2
    exit 1
  fi
  echo "hoist: installing qemu-user-static binfmt-support (emulation for ${needed[*]})..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-user-static binfmt-support >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
for arch in "${needed[@]}"; do
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ] || update-binfmts --enable "qemu-$arch"
done
