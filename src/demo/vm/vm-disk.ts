// The VM lab's disk contents: each slot an ext4 file system carrying its version (mke2fs -d, no
// mount), and the ESP as a FAT file system (mkfs.vfat on an image, filled with mcopy) holding the
// bootloader (stock GRUB built by grub-mkimage, or systemd-boot), the kernels and the boot config.

import { execArgvSync } from '../../platform/exec.ts';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSlots, installBootConfig } from '../../boot/boot-config.ts';
import { DirEsp } from '../../boot/esp.ts';
import { findEspOffset } from '../../boot/mtools-esp.ts';
import type { VmAssets } from './vm-assets.ts';

export type VmBackend = 'grubenv' | 'bls';

/** Makes an ext4 image of `sizeBytes` at `path` whose /version holds `version`. */
export async function makeSlotImage(version: string, path: string, sizeBytes: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ue-slotfs-'));
  try {
    writeFileSync(join(dir, 'version'), version);
    rmSync(path, { force: true });
    execArgvSync(['mke2fs', '-q', '-F', '-t', 'ext4', '-O', '^has_journal', '-L', 'USR', '-d', dir, path, `${Math.floor(sizeBytes / 1024)}k`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GRUB's stub config, built into the EFI image: find the ESP by our fragment and read it. */
const GRUB_STUB = 'search --no-floppy --file --set=root /update-engine/grub.cfg\nconfigfile ($root)/update-engine/grub.cfg\n';
const GRUB_MODULES = ['part_gpt', 'fat', 'loadenv', 'test', 'echo', 'linux', 'normal', 'configfile', 'search', 'search_fs_file'];

/** Fills `staging` with what the ESP holds for `backend`. */
async function stageEsp(staging: string, backend: VmBackend, assets: VmAssets): Promise<void> {
  mkdirSync(join(staging, 'EFI', 'BOOT'), { recursive: true });
  const bootx64 = join(staging, 'EFI', 'BOOT', 'BOOTX64.EFI');
  if (backend === 'grubenv') {
    const stub = join(staging, '..', 'grub-stub.cfg');
    writeFileSync(stub, GRUB_STUB);
    execArgvSync(['grub-mkimage', '-O', 'x86_64-efi', '-p', '/EFI/BOOT', '-c', stub, '-o', bootx64, ...GRUB_MODULES]);
  } else {
    copyFileSync(assets.systemdBootEfi, bootx64);
  }
  mkdirSync(join(staging, 'flatcar'));
  for (const l of ['a', 'b']) {
    copyFileSync(assets.kernel, join(staging, 'flatcar', `vmlinuz-${l}`));
    copyFileSync(assets.initrd, join(staging, 'flatcar', `initrd-${l}`));
  }
  await installBootConfig(new DirEsp(staging), backend, {
    kernelDir: '/flatcar',
    initrd: true,
    cmdline: 'console=ttyS0 quiet panic=-1',
    slots: defaultSlots(),
    timeoutSeconds: 0,
  });
}

/** Formats the disk's EFI system partition as FAT and fills it for `backend`. */
export async function buildEsp(disk: string, efiSizeBytes: number, backend: VmBackend, assets: VmAssets): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ue-esp-build-'));
  try {
    const staging = join(work, 'esp');
    mkdirSync(staging);
    await stageEsp(staging, backend, assets);
    const fat = join(work, 'esp.fat');
    execArgvSync(['mkfs.vfat', '-n', 'EFI-SYSTEM', '-C', fat, String(Math.floor(efiSizeBytes / 1024))]);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    for (const name of readdirSync(staging)) execArgvSync(['mcopy', '-s', '-i', fat, join(staging, name), '::/'], { env });
    const { offsetBytes } = await findEspOffset(disk);
    const fh = await open(disk, 'r+');
    try {
      await fh.write(readFileSync(fat), 0, undefined, offsetBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
