#!/usr/bin/env bash
# Install the host programs hoist drives, only those missing:
#   docker-registry  the CNCF distribution registry (embedded default push target, test registries)
#   htpasswd         bcrypt password files for that registry (apache2-utils)
#   debootstrap      builds the offline stand-in for the Node base image
#   skopeo           copies already-pushed images registry to registry
#   openssl          self-signed TLS for test registries
set -euo pipefail

declare -A package_for=(
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [debootstrap]=debootstrap
  [skopeo]=skopeo
  [openssl]=openssl
)
missing=()
for tool in "${!package_for[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_for[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "hoist: missing host packages: ${missing[*]}; install them with your package manager." >&2
  exit 1
fi
echo "hoist: installing ${missing[*]}..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
