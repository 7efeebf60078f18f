// Whole-OS images for the post-install tests (root): a rootfs tree with a kernel and a /postinst,
// made into ext4 (mkfs.ext4 -d), squashfs (mksquashfs), erofs (mkfs.erofs) or btrfs (mkfs.btrfs --rootdir) and written into a
// slot of a disk image; the ESP made with mkfs.vfat and read and written with mtools (no vfat driver).

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, rmSync, statSync, closeSync, readSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findEspPartition } from '../../src/install/esp.ts';
import { requireTool } from './tools.ts';

export type TestFs = 'ext4' | 'squashfs' | 'erofs' | 'btrfs';

/** A rootfs tree: boot/vmlinuz (random bytes) and, when given, an executable postinst script. */
export function makeTree(dir: string, options: { kernel?: Buffer; postinst?: string; postinstMode?: number } = {}): { kernel: Buffer | undefined } {
  mkdirSync(join(dir, 'boot'), { recursive: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'os-release'), 'ID=test\n');
  if (options.kernel) writeFileSync(join(dir, 'boot', 'vmlinuz'), options.kernel);
  if (options.postinst !== undefined) {
    writeFileSync(join(dir, 'postinst'), options.postinst);
    chmodSync(join(dir, 'postinst'), options.postinstMode ?? 0o755);
  }
  return { kernel: options.kernel };
}

export function randomKernel(bytes = 1536 * 1024): Buffer {
  return randomBytes(bytes);
}

/** Builds an image of `tree` with a real filesystem tool; ext4 and btrfs (120 MiB at least) need a size. */
export function buildFsImage(tree: string, out: string, fs: TestFs, ext4SizeBytes = 8 * 1024 * 1024): void {
  rmSync(out, { force: true });
  if (fs === 'ext4') {
    requireTool('mkfs.ext4');
    writeFileSync(out, '');
    execFileSync('truncate', ['-s', String(ext4SizeBytes), out]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, out], { stdio: 'pipe' });
  } else if (fs === 'btrfs') {
    requireTool('mkfs.btrfs');
    writeFileSync(out, '');
    execFileSync('truncate', ['-s', String(Math.max(ext4SizeBytes, 120 * 1024 * 1024)), out]);
    execFileSync('mkfs.btrfs', ['-q', '--rootdir', tree, out], { stdio: 'pipe' });
  } else if (fs === 'squashfs') {
    requireTool('mksquashfs');
    execFileSync('mksquashfs', [tree, out, '-quiet', '-noappend', '-no-progress'], { stdio: 'pipe' });
  } else {
    requireTool('mkfs.erofs');
    execFileSync('mkfs.erofs', ['--quiet', out, tree], { stdio: 'pipe' });
  }
}

/** Copies a file's bytes into `disk` at `offset`. */
export function writeInto(disk: string, offset: number, file: string): void {
  const data = readFileSync(file);
  const fd = openSync(disk, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` bytes of a file at `offset`. */
export function readFrom(file: string, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer;
}

/**
 * Formats the disk's ESP as FAT32 (mkfs.vfat -F 32; fusefat 0.1a corrupts FAT16 on write,
 * so the ESP must be at least 33 MiB) and puts `files` (paths like flatcar/vmlinuz-a) on it with mtools. */
export async function makeEsp(disk: string, files: Record<string, Buffer>, workDir: string): Promise<{ offset: number; size: number }> {
  requireTool('mkfs.vfat');
  requireTool('mcopy');
  const esp = await findEspPartition(disk);
  if (!esp) throw new Error(`No ESP on "${disk}"`);
  // Made in a file of its own, then copied in: mkfs.vfat --offset on a large disk file makes a FAT mtools cannot read.
  const fat = join(workDir, 'esp.fat');
  rmSync(fat, { force: true });
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'EFI-SYSTEM', '-C', fat, String(esp.byteLength / 1024)], { stdio: 'pipe' });
  for (const [path, data] of Object.entries(files)) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) execFileSync('mmd', ['-D', 's', '-i', fat, `::/${parts.slice(0, i).join('/')}`], { stdio: 'pipe' });
    const local = join(workDir, 'esp-file');
    writeFileSync(local, data);
    execFileSync('mcopy', ['-o', '-i', fat, local, `::/${path}`], { stdio: 'pipe' });
  }
  writeInto(disk, esp.byteOffset, fat);
  rmSync(fat, { force: true });
  return { offset: esp.byteOffset, size: esp.byteLength };
}

/** A file of the disk's ESP (read with mtools), or undefined when it does not exist. */
export async function readEspFile(disk: string, path: string): Promise<Buffer | undefined> {
  const esp = await findEspPartition(disk);
  if (!esp) throw new Error(`No ESP on "${disk}"`);
  try {
    return execFileSync('mcopy', ['-n', '-i', `${disk}@@${esp.byteOffset}`, `::/${path}`, '-'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch {
    return undefined;
  }
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

/**
 * fusefat in the foreground as a child, mounted at `dir` once this resolves; stop() unmounts it and
 * waits for fusefat to exit (it may still write the FAT after `fusermount -u` returns).
 */
export async function startFusefat(device: string, dir: string, options: string[]): Promise<{ stop(): Promise<void> }> {
  requireTool('fusefat');
  const child = spawn('fusefat', ['-f', ...options, device, dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; !readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `); i++) {
    if (child.exitCode !== null || i > 500) {
      child.kill('SIGKILL');
      throw new Error(`fusefat did not mount "${device}" at "${dir}"`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    async stop() {
      execFileSync('fusermount', ['-u', dir]);
      await exited;
    },
  };
}
