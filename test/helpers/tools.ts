// Tests that need an outside tool (sgdisk, cgpt, etcd, root) call requireTool: a missing tool is a
// failure with the install hint, never a silent skip (CI installs them with scripts/setup.sh).

import { execFileSync } from 'node:child_process';

const INSTALL_HINT: Record<string, string> = {
  sgdisk: 'apt-get install gdisk',
  cgpt: 'apt-get install cgpt',
  etcd: 'apt-get install etcd-server',
  etcdctl: 'apt-get install etcd-client',
  openssl: 'apt-get install openssl',
  curl: 'apt-get install curl',
  losetup: 'apt-get install mount',
  partx: 'apt-get install util-linux',
  setpriv: 'apt-get install util-linux',
  'dbus-daemon': 'apt-get install dbus-daemon dbus-system-bus-common',
  'dbus-monitor': 'apt-get install dbus-bin',
  gdbus: 'apt-get install libglib2.0-bin',
  busctl: 'apt-get install systemd',
  'systemd-analyze': 'apt-get install systemd',
  'systemd-notify': 'apt-get install systemd',
  python3: 'apt-get install python3',
  flock: 'apt-get install util-linux',
  'mkfs.ext4': 'apt-get install e2fsprogs',
  'mkfs.vfat': 'apt-get install dosfstools',
  mcopy: 'apt-get install mtools',
  'grub-editenv': 'apt-get install grub-common',
  'grub-mkimage': 'apt-get install grub-common grub-efi-amd64-bin',
  'qemu-system-x86_64': 'apt-get install qemu-system-x86',
  busybox: 'apt-get install busybox-static',
  cpio: 'apt-get install cpio',
  mke2fs: 'apt-get install e2fsprogs',
  nginx: 'apt-get install nginx-light',
};

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws (so the test fails) when the tool is not on PATH. */
export function requireTool(name: string): void {
  if (!hasTool(name)) {
    throw new Error(`This test needs "${name}" (${INSTALL_HINT[name] ?? 'install it'}); run scripts/setup.sh`);
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Throws when not root: tests of loop devices and cgroups need it (CI runs as root). */
export function requireRoot(what: string): void {
  if (!isRoot()) throw new Error(`This test needs root for ${what}; run it as root (CI does)`);
}
