#!/usr/bin/env bash
# Debian packages the test suite needs: ping and nft for traffic and filters,
# iproute2 for namespaces, libvirt's schemas and xmllint for domain XML, busybox (nc,
# udhcpd) for TCP listeners and DHCP in guest namespaces.
set -euo pipefail
packages=(iputils-ping nftables iproute2 libvirt0 libxml2-utils busybox-static)
if [ "$(id -u)" != 0 ]; then
  echo "not root: skipping system packages (${packages[*]})" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
