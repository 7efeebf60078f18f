// Disk images for tests: built with sgdisk (the operators' tool) or with the project's own codec,
// in a temporary directory; wrappers for sgdisk -v and cgpt show/add; a byte fingerprint; and a
// fake /sys + /dev + /proc tree around an image for slot detection.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskImage, type DiskImage, type DiskImageOptions } from '../../src/slots/disk-image.ts';
import type { SlotDetectPaths } from '../../src/slots/booted-slot-detection.ts';
import { requireTool } from './tools.ts';

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'ue-slots-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SgdiskPartition {
  partition: number;
  sizeMiB: number;
  /** sgdisk type code (8500 = /usr) or a GUID. */
  type: string;
  label: string;
}

/** Flatcar's layout as sgdisk makes it: EFI, BIOS boot, USR-A, USR-B, OEM, ROOT. */
export const SGDISK_FLATCAR_LAYOUT: SgdiskPartition[] = [
  { partition: 1, sizeMiB: 2, type: 'EF00', label: 'EFI-SYSTEM' },
  { partition: 2, sizeMiB: 1, type: 'EF02', label: 'BIOS-BOOT' },
  { partition: 3, sizeMiB: 8, type: '8500', label: 'USR-A' },
  { partition: 4, sizeMiB: 8, type: '8500', label: 'USR-B' },
  { partition: 6, sizeMiB: 2, type: '8300', label: 'OEM' },
  { partition: 9, sizeMiB: 4, type: '8501', label: 'ROOT' },
];

/** Runs sgdisk with `args` on `path`; throws with its output when it fails. */
export function sgdisk(path: string, args: string[]): string {
  requireTool('sgdisk');
  const r = spawnSync('sgdisk', [...args, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sgdisk ${args.join(' ')} ${path} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Makes an image with sgdisk (512-byte sectors): a new GPT and the given partitions, in order. */
export function createSgdiskImage(path: string, sizeMiB = 32, layout: SgdiskPartition[] = SGDISK_FLATCAR_LAYOUT): void {
  writeFileSync(path, '');
  truncateSync(path, sizeMiB * 1024 * 1024);
  const args = ['-o'];
  for (const p of layout) args.push('-n', `${p.partition}:0:+${p.sizeMiB}M`, '-t', `${p.partition}:${p.type}`, '-c', `${p.partition}:${p.label}`);
  sgdisk(path, args);
}

/** Makes an image with the project's own codec (default: Flatcar's layout, small slots). */
export function createOwnImage(path: string, options: DiskImageOptions = {}): Promise<DiskImage> {
  return createDiskImage(path, { usrSizeBytes: 8 * 1024 * 1024, ...options });
}

/** `sgdisk -v`: ok when it reports no problems; the output either way. */
export function sgdiskVerify(path: string): { ok: boolean; output: string } {
  requireTool('sgdisk');
  const r = spawnSync('sgdisk', ['-v', path], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  return { ok: r.status === 0 && output.includes('No problems found') && !/Warning|Problem:|Caution/i.test(output), output };
}

/** `cgpt show -i N -P|-T|-S DISK` as numbers. */
export function cgptAttributes(path: string, partition: number): { priority: number; tries: number; successful: number } {
  requireTool('cgpt');
  const show = (flag: string): number => Number(execFileSync('cgpt', ['show', '-i', String(partition), flag, path], { encoding: 'utf8' }).trim());
  return { priority: show('-P'), tries: show('-T'), successful: show('-S') };
}

/** `cgpt add -i N -P p -T t -S s DISK`. */
export function cgptSetAttributes(path: string, partition: number, a: { priority: number; tries: number; successful: number }): void {
  requireTool('cgpt');
  execFileSync('cgpt', ['add', '-i', String(partition), '-P', String(a.priority), '-T', String(a.tries), '-S', String(a.successful), path], { stdio: 'pipe' });
}

/** SHA-256 of the whole file: "byte-identical" checks compare these. */
export function fingerprint(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * A fake system under `root` for detectBootedSlot: sysfs disk "fakedisk" (symlinked to `image` in
 * the fake /dev) with the given partitions, a device-mapper dm-0 (/dev/mapper/usr) on partition 4,
 * a /proc/cmdline without /usr hints and a mounts table without /usr. Tests rewrite the two files.
 */
export function makeFakeSystem(root: string, image: string, partitions: number[]): SlotDetectPaths {
  const sysBlock = join(root, 'sys/class/block');
  const devices = join(root, 'sys/devices/virtual/block');
  const dev = join(root, 'dev');
  for (const d of [sysBlock, join(devices, 'fakedisk/queue'), join(devices, 'dm-0/slaves'), join(dev, 'mapper'), join(root, 'proc')])
    mkdirSync(d, { recursive: true });
  writeFileSync(join(devices, 'fakedisk/size'), '81920\n');
  writeFileSync(join(devices, 'fakedisk/queue/logical_block_size'), '512\n');
  symlinkSync(join(devices, 'fakedisk'), join(sysBlock, 'fakedisk'));
  symlinkSync(image, join(dev, 'fakedisk'));
  for (const p of partitions) {
    mkdirSync(join(devices, `fakedisk/fakedisk${p}`));
    writeFileSync(join(devices, `fakedisk/fakedisk${p}/partition`), `${p}\n`);
    symlinkSync(join(devices, `fakedisk/fakedisk${p}`), join(sysBlock, `fakedisk${p}`));
    writeFileSync(join(dev, `fakedisk${p}`), '');
  }
  mkdirSync(join(devices, 'dm-0/slaves/fakedisk4'));
  symlinkSync(join(devices, 'dm-0'), join(sysBlock, 'dm-0'));
  writeFileSync(join(dev, 'dm-0'), '');
  symlinkSync('../dm-0', join(dev, 'mapper/usr'));
  const paths: SlotDetectPaths = { sysBlock, dev, procCmdline: join(root, 'proc/cmdline'), procMounts: join(root, 'proc/mounts') };
  writeFileSync(paths.procCmdline, 'console=ttyS0 quiet\n');
  writeFileSync(paths.procMounts, '/dev/fakedisk9 / ext4 rw 0 0\n');
  return paths;
}
