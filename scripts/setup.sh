#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine: the npm packages, and the Debian
# packages etcd-server, etcd-client, gdisk (sgdisk), cgpt, dbus-daemon, dbus-bin (dbus-monitor),
# dbus-system-bus-common (the system bus configuration the D-Bus tests start from),
# libglib2.0-bin (gdbus), systemd (busctl, systemd-analyze, systemd-notify), python3 (a datagram
# receiver standing in for systemd's notify socket), nginx-light (multi-range downloads), and the filesystem tools (e2fsprogs,
# squashfs-tools, erofs-utils, btrfs-progs, fusefat, fuse3, dosfstools, mtools) when their commands are missing.
# For the VM tests: QEMU, OVMF, GRUB, systemd-boot, busybox, cpio, and a Debian kernel package
# fetched with apt-get download into .cache/vm (never installed, never built).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v sgdisk >/dev/null 2>&1 || missing+=(gdisk)
command -v cgpt >/dev/null 2>&1 || missing+=(cgpt)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v partx >/dev/null 2>&1 || missing+=(util-linux)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus-daemon)
command -v dbus-monitor >/dev/null 2>&1 || missing+=(dbus-bin)
[ -f /usr/share/dbus-1/system.conf ] || missing+=(dbus-system-bus-common)
command -v gdbus >/dev/null 2>&1 || missing+=(libglib2.0-bin)
command -v busctl >/dev/null 2>&1 || missing+=(systemd)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# the post-install step's tests: real slot filesystems and a FAT ESP (this kernel may lack vfat)
command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs)
command -v mksquashfs >/dev/null 2>&1 || missing+=(squashfs-tools)
command -v mkfs.erofs >/dev/null 2>&1 || missing+=(erofs-utils)
command -v mkfs.btrfs >/dev/null 2>&1 || missing+=(btrfs-progs)
command -v fusefat >/dev/null 2>&1 || missing+=(fusefat)
command -v fusermount >/dev/null 2>&1 || missing+=(fuse3)
command -v mkfs.vfat >/dev/null 2>&1 || missing+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -f /usr/share/OVMF/OVMF_CODE.fd ] || missing+=(ovmf)
[ -d /usr/lib/grub/x86_64-efi ] || missing+=(grub-efi-amd64-bin)
command -v grub-mkimage >/dev/null 2>&1 || missing+=(grub-common)
[ -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || missing+=(systemd-boot-efi)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v mke2fs >/dev/null 2>&1 || missing+=(e2fsprogs)
# the multi-range download tests (issue 18) run against nginx's range filter
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The VM tests boot a Debian cloud kernel: its package is downloaded (not installed) into .cache/vm.
if ! ls .cache/vm/linux-image-*.deb >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  [ ${#missing[@]} -gt 0 ] || $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  kernel=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  echo "setup: downloading the Debian kernel package $kernel into .cache/vm" >&2
  mkdir -p .cache/vm
  (cd .cache/vm && apt-get download -qq "$kernel" 2>/dev/null) || true
  ls .cache/vm/linux-image-*.deb >/dev/null 2>&1 || { echo "setup: could not download $kernel" >&2; exit 1; }
fi

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
