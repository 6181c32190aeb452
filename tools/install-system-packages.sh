#!/usr/bin/env bash
# Debian packages the test suite needs: ping and nft for traffic and filters,
# iproute2 for namespaces, libvirt's schemas and xmllint for domain XML;
# dnsmasq for the per-host DHCP/RA responder and dhclient as the DHCPv6 test
# client; QEMU, the distribution kernel, busybox and cpio for the guest image
# that tests/guests/qemu.py builds; busybox (nc, udhcpd) also serves TCP
# listeners and DHCP in guest namespaces; galera-4, rsync, mariadb-server and
# postgresql for private database servers and a 3-node Galera cluster in the
# DB tests (outages, races across nodes).
set -euo pipefail
packages=(iputils-ping nftables iproute2 libvirt0 libxml2-utils
          dnsmasq-base isc-dhcp-client qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
          galera-4 rsync mariadb-server postgresql)
if [ "$(id -u)" != 0 ]; then
  echo "not root: skipping system packages (${packages[*]})" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null 2>&1
fi
