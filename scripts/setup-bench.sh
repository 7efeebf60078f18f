#!/usr/bin/env bash
# Installs what the benchmarks' peers need beyond scripts/setup.sh: nginx (the static server), swupdate
# and RAUC (bench/peers), casync, squashfs-tools and erofs-utils (bench/delta), dbus (RAUC's service).
set -euo pipefail
packages=(nginx-light swupdate rauc casync squashfs-tools erofs-utils e2fsprogs dbus time curl cpio openssl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup-bench: installing Debian packages: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
