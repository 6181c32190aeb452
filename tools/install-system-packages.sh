#!/usr/bin/env bash
# Debian packages the test suite needs: ping and nft for traffic and filters,
# iproute2 for namespaces, libvirt's schemas and xmllint for domain XML.
# galera-4, rsync, mariadb-server and postgresql: private database servers and a
# 3-node Galera cluster for the DB tests (outages, races across nodes).
set -euo pipefail
packages=(iputils-ping nftables iproute2 libvirt0 libxml2-utils galera-4 rsync mariadb-server
          postgresql)
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
