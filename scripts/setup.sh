#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine: the npm packages, and the Debian
# packages etcd-server, etcd-client, gdisk (sgdisk) and cgpt when their commands are missing;
# for the VM tests QEMU, OVMF, GRUB, systemd-boot, busybox, mtools, and a Debian kernel package
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
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -f /usr/share/OVMF/OVMF_CODE.fd ] || missing+=(ovmf)
[ -d /usr/lib/grub/x86_64-efi ] || missing+=(grub-efi-amd64-bin)
command -v grub-mkimage >/dev/null 2>&1 || missing+=(grub-common)
[ -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || missing+=(systemd-boot-efi)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v mkfs.vfat >/dev/null 2>&1 || missing+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v mke2fs >/dev/null 2>&1 || missing+=(e2fsprogs)
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
