"""The guest image: a distribution kernel and a busybox initramfs, built once and cached.

:func:`guest_image` builds (once per set of inputs, cached under
:func:`default_cache_dir` or a given directory, rebuilt when an input
changes) a tiny guest from Debian packages: the distribution kernel's
uncompressed ``vmlinux`` (extracted from ``/boot/vmlinuz-*``; it has PVH, so
QEMU's ``microvm`` machine boots it in about 2 s under TCG) and an initramfs
with ``busybox-static`` and the virtio network modules. Its init brings every
NIC up with DHCP (busybox ``udhcpc``; IPv6 by router advertisements (SLAAC):
Debian's static busybox has no ``udhcpc6``), prints one parseable line per
event on the serial console and answers pings (the kernel does).

Given ``naas.ping=ADDR,ADDR,...`` on the kernel command line, the guest also
pings every address from every NIC once it holds its leases (the demo's
connectivity matrix): a target inside the NIC's own subnet is tried up to
``PING_TRIES`` times, at least 20 s (its guest may still be booting), any
other target once. It answers ARP only on the NIC holding the address (``arp_ignore=1``),
as a multi-homed VM is set up, and reports the MAC that answered.

Console lines the guest prints::

    NAAS-READY nics=eth0,eth1
    NAAS-LEASE if=eth0 event=bound ip=10.0.0.5 mask=24 router=10.0.0.1 mtu=1450 ...
    NAAS-ADDR6 if=eth0 addr=2001:db8::f816:3eff:fe00:1/64
    NAAS-PING if=eth0 to=10.0.0.6 ok=1 mac=fa:16:3e:00:00:06
    NAAS-PING-DONE

Building needs root only because Debian keeps ``/boot/vmlinuz-*`` readable by
root alone on some installations; :func:`missing` says what is absent.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
#: Modules loaded in this order by the guest's init (dependencies first).
MODULES = ("virtio_ring", "virtio", "virtio_mmio", "virtio_pci_legacy_dev",
           "virtio_pci_modern_dev", "virtio_pci", "failover", "net_failover", "virtio_net")
#: Bump to force a rebuild when the build itself changes.
BUILD_VERSION = "1"
#: Tries (at least half a second apart) at an address of the NIC's own subnet.
PING_TRIES = 40
#: Where a checkout keeps its guest images (``<repository>/.cache/guests``).
CHECKOUT_CACHE = Path(".cache") / "guests"
#: Environment variable that overrides :func:`default_cache_dir`.
CACHE_ENV = "NAAS_GUEST_CACHE"

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /modules.list); do insmod /modules/$m.ko 2>/dev/null; done
ip link set lo up
want=$(sed -n 's/.*naas.nics=\([0-9]*\).*/\1/p' /proc/cmdline)
targets=$(sed -n 's/.*naas.ping=\([0-9.,]*\).*/\1/p' /proc/cmdline | tr , ' ')
if [ -n "$targets" ]; then
  echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore
  echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce
fi
t=0
while [ "$(ls -d /sys/class/net/eth* 2>/dev/null | wc -l)" -lt "${want:-1}" ] && [ $t -lt 50 ]; do
  sleep 0.1; t=$((t + 1))
done
nics=""
for path in /sys/class/net/eth*; do
  [ -e "$path" ] || continue
  i=${path##*/}
  nics="$nics${nics:+,}$i"
  ip link set "$i" up
  udhcpc -i "$i" -b -t 20 -T 1 -A 2 -O mtu -O staticroutes -s /lease.sh >/dev/null 2>&1
done
echo "NAAS-READY nics=$nics"
[ -n "$targets" ] && /ping.sh "$nics" $targets &
seen=""
n=0
while true; do
  for a in $(ip -o -6 addr show scope global | awk '{print $2 "=" $4}'); do
    case " $seen " in *" $a "*) ;; *) seen="$seen $a"
      echo "NAAS-ADDR6 if=${a%%=*} addr=${a#*=}";; esac
  done
  n=$((n + 1))
  [ $n -gt 60 ] && break
  sleep 1
done
while true; do sleep 3600; done
"""

LEASE = r"""#!/bin/sh
# udhcpc hook: apply the lease and report it on the console.
event=$1
case "$event" in
  bound|renew)
    ip -4 addr flush dev "$interface" scope global
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    elif [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
echo "NAAS-LEASE if=$interface event=$event ip=$ip mask=$mask router=$(echo $router | tr ' ' ,)\
 mtu=$mtu routes=$(echo $staticroutes | tr ' ' ,) dns=$(echo $dns | tr ' ' ,)\
 lease=$lease" > /dev/console
"""

PING = r"""#!/bin/sh
# ping.sh NICS TARGET...: ping every target from every NIC (bound to it), report each.
nics=$(echo "$1" | tr , ' ')
shift
cidr() { ip -o -4 addr show dev "$1" scope global | awk '{print $4}' | head -n 1; }
for i in $nics; do  # a NIC's lease first: its subnet decides how long to try
  t=0
  while [ -z "$(cidr "$i")" ] && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
done
probe() {
  mine=$(cidr "$1")
  tries=1
  if [ -n "$mine" ] && [ "$(ipcalc -n "$mine")" = "$(ipcalc -n "$2/${mine#*/}")" ]; then
    tries=@TRIES@
  fi
  ok=0 n=0
  while [ $n -lt $tries ]; do
    if ping -c 1 -W 1 -I "$1" "$2" >/dev/null 2>&1; then ok=1; break; fi
    n=$((n + 1))
    [ $n -lt $tries ] && sleep 0.5  # an unanswered ARP can fail the ping at once
  done
  mac=$(ip neigh show "$2" dev "$1" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
  echo "NAAS-PING if=$1 to=$2 ok=$ok mac=$mac" > /dev/console
}
for i in $nics; do
  for target in "$@"; do probe "$i" "$target" & done
done
wait
echo "NAAS-PING-DONE" > /dev/console
""".replace("@TRIES@", str(PING_TRIES))


@dataclasses.dataclass(frozen=True)
class GuestImage:
    """A built guest: the uncompressed kernel and the initramfs, ready for QEMU."""

    kernel: Path
    initrd: Path


def missing() -> list[str]:
    """What a QEMU guest needs and this machine lacks (empty: it can boot guests).

    Root (to read the kernel, open taps and enter namespaces), QEMU, cpio,
    busybox and a distribution kernel; Debian packages ``qemu-system-x86``,
    ``cpio``, ``busybox-static`` and ``linux-image-amd64``.
    """
    problems = []
    if os.geteuid() != 0:
        problems.append("not root")
    for program in (QEMU, "cpio"):
        if shutil.which(program) is None:
            problems.append(f"no {program}")
    if not Path(BUSYBOX).exists():
        problems.append("no busybox")
    if not glob.glob("/boot/vmlinuz-*"):
        problems.append("no /boot/vmlinuz-*")
    return problems


def default_cache_dir() -> Path:
    """Where guest images are cached unless a directory is given.

    ``$NAAS_GUEST_CACHE`` when set; else ``.cache/guests`` in the repository
    when naas_lib runs from a checkout (as ``tools/demo.sh`` does); else the
    user's cache directory (``$XDG_CACHE_HOME/naas/guests``, by default
    ``~/.cache/naas/guests``).
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / ".git").exists():
        return checkout / CHECKOUT_CACHE
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "naas" / "guests"


def kernel_release() -> tuple[str, Path]:
    """The newest distribution kernel: its release and its ``/boot/vmlinuz-*`` path."""
    candidates = sorted(glob.glob("/boot/vmlinuz-*"))
    if not candidates:
        raise FileNotFoundError("no /boot/vmlinuz-* (Debian: linux-image-amd64)")
    path = Path(candidates[-1])
    return path.name.removeprefix("vmlinuz-"), path


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The uncompressed ELF kernel inside a bzImage (XZ, gzip or zstd payload)."""
    decoders = [
        (b"\xfd7zXZ\x00", lambda data: lzma.LZMADecompressor().decompress(data)),
        (b"\x1f\x8b\x08", lambda data: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)),
        (b"\x28\xb5\x2f\xfd", lambda data: subprocess.run(
            ["zstd", "-dc"], input=data, capture_output=True).stdout),
    ]
    for magic, decode in decoders:
        start = bzimage.find(magic)
        while start != -1:
            try:
                out = decode(bzimage[start:])
            except (lzma.LZMAError, OSError, EOFError, ValueError, zlib.error):
                out = b""
            if out.startswith(b"\x7fELF"):
                return out
            start = bzimage.find(magic, start + 1)
    raise RuntimeError("no ELF kernel found inside the bzImage")


def _inputs_digest(release: str, vmlinuz: Path) -> str:
    digest = hashlib.sha256()
    for text in (BUILD_VERSION, release, INIT, LEASE, PING, " ".join(MODULES)):
        digest.update(text.encode() + b"\0")
    for path in (vmlinuz, Path(BUSYBOX)):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def is_cached(cache_dir: Path | None = None) -> bool:
    """Whether :func:`guest_image` would find a finished build (no build needed)."""
    release, vmlinuz = kernel_release()
    target = Path(cache_dir or default_cache_dir()) / _inputs_digest(release, vmlinuz)
    return (target / "vmlinux").exists() and (target / "initrd.cpio").exists()


def guest_image(cache_dir: Path | None = None) -> GuestImage:
    """The cached guest image, built first when missing or when its inputs changed.

    Concurrent builders are safe: each builds in its own temporary directory
    and renames it into place; readers see a whole image or none.
    """
    cache_dir = Path(cache_dir or default_cache_dir())
    release, vmlinuz = kernel_release()
    target = cache_dir / _inputs_digest(release, vmlinuz)
    image = GuestImage(kernel=target / "vmlinux", initrd=target / "initrd.cpio")
    if image.kernel.exists() and image.initrd.exists():
        return image
    cache_dir.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=cache_dir, prefix="build-"))
    try:
        (build / "vmlinux").write_bytes(extract_vmlinux(vmlinuz.read_bytes()))
        _initramfs(build, release)
        if target.exists() and not (image.kernel.exists() and image.initrd.exists()):
            shutil.rmtree(target)  # a broken earlier build
        try:
            build.rename(target)  # atomic: readers see a whole image or none
        except OSError:
            pass  # another process finished the same build first
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return image


def _initramfs(build: Path, release: str) -> None:
    """``build/initrd.cpio``: busybox, the virtio modules, init and its two scripts."""
    root = build / "root"
    for sub in ("bin", "proc", "sys", "dev", "modules", "tmp"):
        (root / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    found = {Path(p).name.removesuffix(".ko"): p for p in glob.glob(
        f"/lib/modules/{release}/kernel/**/*.ko", recursive=True)}
    loaded = [m for m in MODULES if m in found]
    for module in loaded:
        shutil.copy2(found[module], root / "modules" / f"{module}.ko")
    (root / "modules.list").write_text(" ".join(loaded) + "\n")
    for name, text in (("init", INIT), ("lease.sh", LEASE), ("ping.sh", PING)):
        (root / name).write_text(text)
        (root / name).chmod(0o755)
    files = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root, check=True,
                           capture_output=True).stdout
    with open(build / "initrd.cpio", "wb") as out:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=root,
                       input=files, stdout=out, check=True)
    shutil.rmtree(root)
