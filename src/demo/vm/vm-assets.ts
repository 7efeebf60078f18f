// What the VM needs from Debian, found on this machine: OVMF, stock GRUB (grub-mkimage), systemd-boot,
// busybox, and a Debian kernel package fetched by scripts/setup.sh into .cache/vm (never built).
// Builds (once, cached) the busybox initramfs that names the slot it booted and powers off.

import { execArgvSync, hasCommand } from '../../platform/exec.ts';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { UpdateEngineError } from '../../errors.ts';
import { PROJECT_ROOT } from '../../platform/project-root.ts';

export const VM_CACHE_DIR = process.env.UPDATE_ENGINE_VM_CACHE ?? join(PROJECT_ROOT, '.cache', 'vm');

export interface VmAssets {
  ovmfCode: string;
  ovmfVars: string;
  systemdBootEfi: string;
  kernel: string;
  initrd: string;
}

const OVMF_CODE = ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd'];
const OVMF_VARS = ['/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd'];
const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];
/** Loaded in this order (each after what it depends on); the rest the kernel has built in (ext4, serial). */
const MODULES = [
  'fs/efivarfs/efivarfs',
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci',
  'drivers/block/virtio_blk',
];

const need = (what: string, pkg: string): UpdateEngineError =>
  new UpdateEngineError('ERR_CONFIG_MISSING', `The VM needs ${what} (Debian package ${pkg}); run scripts/setup.sh`);

function firstExisting(paths: string[], what: string, pkg: string): string {
  const found = paths.find((p) => existsSync(p));
  if (!found) throw need(what, pkg);
  return found;
}

/** Checks the host tools the VM lab runs. */
export function checkVmTools(): void {
  const tools: [string, string][] = [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['grub-mkimage', 'grub-common'],
    ['mkfs.vfat', 'dosfstools'],
    ['mcopy', 'mtools'],
    ['mke2fs', 'e2fsprogs'],
    ['cpio', 'cpio'],
    ['dpkg-deb', 'dpkg'],
  ];
  for (const [cmd, pkg] of tools) if (!hasCommand(cmd)) throw need(`"${cmd}"`, pkg);
  if (!existsSync('/usr/lib/grub/x86_64-efi')) throw need("GRUB's x86_64-efi modules", 'grub-efi-amd64-bin');
}

/** The kernel package's files, unpacked once into the cache. */
function unpackKernel(): { kernel: string; modules: string } {
  const debs = existsSync(VM_CACHE_DIR)
    ? readdirSync(VM_CACHE_DIR)
        .filter((f) => /^linux-image-.*\.deb$/.test(f))
        .sort()
    : [];
  const deb = debs[debs.length - 1];
  if (!deb) throw need(`a Debian kernel package in ${VM_CACHE_DIR}`, 'linux-image-cloud-amd64, fetched with apt-get download');
  const root = join(VM_CACHE_DIR, deb.replace(/\.deb$/, ''));
  if (!existsSync(join(root, 'done'))) {
    // Unpacked beside and renamed into place: VM tests in parallel workers may race to do this.
    const temp = mkdtempSync(`${root}.tmp-`);
    execArgvSync(['dpkg-deb', '-x', join(VM_CACHE_DIR, deb), temp]);
    writeFileSync(join(temp, 'done'), '');
    try {
      renameSync(temp, root);
    } catch {
      rmSync(temp, { recursive: true, force: true });
      if (!existsSync(join(root, 'done'))) throw new UpdateEngineError('ERR_CONFIG_MISSING', `Cannot unpack ${deb} into ${root}`);
    }
  }
  const kernel = readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  const release = readdirSync(join(root, 'lib', 'modules'))[0];
  if (!kernel || !release) throw new UpdateEngineError('ERR_CONFIG_MISSING', `${deb} holds no kernel`);
  return { kernel: join(root, 'boot', kernel), modules: join(root, 'lib', 'modules', release, 'kernel') };
}

/** The initramfs's /init: find the slot the command line names, read its version, print one line, power off. */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => m.slice(m.lastIndexOf('/') + 1)).join(' ')}; do insmod /lib/modules/$m.ko; done
slot=""; label=""
for w in $(cat /proc/cmdline); do
  case "$w" in ue.slot=*) slot="\${w#ue.slot=}";; mount.usr=PARTLABEL=*) label="\${w#mount.usr=PARTLABEL=}";; esac
done
dev=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  for u in /sys/class/block/*/uevent; do grep -qx "PARTNAME=$label" "$u" && dev="/dev/$(basename "$(dirname "$u")")"; done
  [ -n "$dev" ] && break; sleep 0.2
done
version="none"
if [ -n "$dev" ] && mount -t ext4 -o ro "$dev" /mnt; then version="$(cat /mnt/version)"; umount /mnt; fi
entry="none"
if mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null; then
  f=/sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
  [ -f "$f" ] && entry="$(tail -c +5 "$f" | tr -d '\\000')"
fi
echo "UE-BOOTED slot=$slot label=$label device=$dev version=$version entry=$entry"
poweroff -f
`;

/** Builds (or reuses) the gzip'd newc initramfs with busybox, the virtio modules and /init. */
function buildInitrd(modules: string): string {
  const out = join(VM_CACHE_DIR, 'initrd-ue.img');
  const stamp = join(VM_CACHE_DIR, 'initrd-ue.script');
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === INIT_SCRIPT) return out;
  const busybox = firstExisting(BUSYBOX, 'busybox', 'busybox-static');
  const tree = mkdtempSync(join(VM_CACHE_DIR, 'initrd-tree-'));
  for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'mnt']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(busybox, join(tree, 'bin', 'busybox'));
  chmodSync(join(tree, 'bin', 'busybox'), 0o755);
  for (const m of MODULES) copyFileSync(join(modules, `${m}.ko`), join(tree, 'lib', 'modules', `${m.slice(m.lastIndexOf('/') + 1)}.ko`));
  writeFileSync(join(tree, 'init'), INIT_SCRIPT, { mode: 0o755 });
  const files = execArgvSync(['find', '.'], { cwd: tree });
  const cpio = execArgvSync(['cpio', '-o', '-H', 'newc', '--quiet'], { cwd: tree, input: files });
  writeFileSync(`${out}.tmp-${process.pid}`, gzipSync(cpio, { level: 1 }));
  renameSync(`${out}.tmp-${process.pid}`, out);
  writeFileSync(`${stamp}.tmp-${process.pid}`, INIT_SCRIPT);
  renameSync(`${stamp}.tmp-${process.pid}`, stamp);
  rmSync(tree, { recursive: true, force: true });
  return out;
}

/** Everything the VM boots with; throws ERR_CONFIG_MISSING naming the package when something is absent. */
export function vmAssets(): VmAssets {
  checkVmTools();
  const { kernel, modules } = unpackKernel();
  return {
    ovmfCode: firstExisting(OVMF_CODE, 'OVMF firmware', 'ovmf'),
    ovmfVars: firstExisting(OVMF_VARS, 'OVMF variables', 'ovmf'),
    systemdBootEfi: firstExisting([SYSTEMD_BOOT], 'systemd-boot', 'systemd-boot-efi'),
    kernel,
    initrd: buildInitrd(modules),
  };
}
