#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine: the npm packages, and the Debian
# packages etcd-server, etcd-client, gdisk (sgdisk), cgpt, dbus-daemon, dbus-bin (dbus-monitor),
# dbus-system-bus-common (the system bus configuration the D-Bus tests start from),
# libglib2.0-bin (gdbus), systemd (busctl, systemd-analyze, systemd-notify), python3 (a datagram
# receiver standing in for systemd's notify socket), and the filesystem tools (e2fsprogs,
# squashfs-tools, erofs-utils, btrfs-progs, fusefat, fuse3, dosfstools, mtools) when their commands are missing.
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
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
