#!/usr/bin/env bash
# Install the host programs hoist drives, only those missing:
#   docker-registry  the CNCF distribution registry (embedded default push target, test registries)
#   htpasswd         bcrypt password files for that registry (apache2-utils)
#   debootstrap      builds the offline stand-in for the Node base image
#   skopeo           copies already-pushed images registry to registry
#   openssl          self-signed TLS for test registries
#   sshd             a throwaway sshd on 127.0.0.1 for the deploy-over-ssh:// tests (openssh-server;
#                    the package's own service is kept from starting, the tests run their own)
#   curl             the readiness loop of bench/baseline.sh (the script hoist is benchmarked against)
set -euo pipefail

declare -A package_for=(
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [debootstrap]=debootstrap
  [skopeo]=skopeo
  [openssl]=openssl
  [sshd]=openssh-server
  [curl]=curl
)
missing=()
for tool in "${!package_for[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${package_for[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "hoist: missing host packages: ${missing[*]}; install them with your package manager." >&2
  exit 1
fi
echo "hoist: installing ${missing[*]}..."
apt-get update -qq
# No package may start a system service (openssh-server would listen on port 22): the
# policy-rc.d convention tells invoke-rc.d "not now" (101). Removed again if we made it.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
