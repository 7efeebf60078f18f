// The demo's whole-OS mode (root, with mksquashfs, fusefat, mkfs.vfat and mtools): slot images
// built from rootfs trees with a kernel and a /postinst, a FAT32 ESP on the lab disk holding
// flatcar/vmlinuz-a, and a listing of the kernel files on it (read with mtools, no mount).

import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findEspPartition } from '../install/esp.ts';
import { execArgv, execArgvBytes } from '../platform/exec.ts';
import { buildTreeImage } from '../payload/tree-image.ts';

/** The tools the whole-OS demo needs besides root. */
export const OS_DEMO_TOOLS = ['mksquashfs', 'unshare', 'nsenter', 'setpriv', 'fusefat', 'fusermount', 'mkfs.vfat', 'mmd', 'mcopy', 'mdir'] as const;

/** The first missing requirement, or undefined when the whole-OS demo can run. */
export async function osDemoMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'root';
  for (const tool of OS_DEMO_TOOLS) {
    const r = await execArgv(['sh', '-c', `command -v ${tool}`]).catch(() => undefined);
    if (r?.exitCode !== 0) return tool;
  }
  return undefined;
}

async function run(argv: string[], what: string): Promise<string> {
  const r = await execArgv(argv);
  if (r.exitCode !== 0) throw new Error(`${what}: ${argv[0]} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A fake kernel: a header naming the version, then random bytes. */
export function fakeKernel(version: string, bytes: number): Buffer {
  return Buffer.concat([Buffer.from(`demo kernel ${version}\n`), randomBytes(bytes)]);
}

/** A rootfs tree: boot/vmlinuz, an executable /postinst, os-release and a filler up to `sizeBytes`. */
export async function makeRootfs(dir: string, version: string, kernel: Buffer, sizeBytes: number): Promise<void> {
  await mkdir(join(dir, 'boot'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'boot', 'vmlinuz'), kernel);
  await writeFile(join(dir, 'os-release'), `ID=demo\nVERSION_ID=${version}\n`);
  await writeFile(
    join(dir, 'postinst'),
    '#!/bin/sh\n# Runs from the new image before the flip (argv[1] = the new slot\'s device).\necho "postinst of $UPDATE_ENGINE_NEW_VERSION for slot $UPDATE_ENGINE_SLOT on $1"\n',
  );
  await chmod(join(dir, 'postinst'), 0o755);
  const filler = await open(join(dir, 'lib', 'filler.bin'), 'w');
  try {
    for (let done = kernel.length; done < sizeBytes; done += 1024 * 1024) await filler.write(randomBytes(Math.min(1024 * 1024, sizeBytes - done)));
  } finally {
    await filler.close();
  }
}

/** Builds a squashfs image of a rootfs tree. */
export async function buildRootfsImage(tree: string, out: string): Promise<void> {
  await buildTreeImage(tree, 'squashfs', out);
}

/** Formats the disk's ESP as FAT32 and puts flatcar/vmlinuz-a on it. */
export async function makeDemoEsp(disk: string, kernelA: Buffer, workDir: string): Promise<void> {
  const esp = await findEspPartition(disk);
  if (!esp) throw new Error(`No ESP on "${disk}"`);
  // Made in a file of its own and copied in (mkfs.vfat --offset on a large disk file makes a FAT mtools cannot read).
  const fat = join(workDir, 'esp.fat');
  await rm(fat, { force: true });
  await run(['mkfs.vfat', '-F', '32', '-n', 'EFI-SYSTEM', '-C', fat, String(esp.byteLength / 1024)], 'Cannot format the demo ESP');
  await run(['mmd', '-i', fat, '::/flatcar'], 'Cannot make flatcar/ on the demo ESP');
  const local = join(workDir, 'vmlinuz-a');
  await writeFile(local, kernelA);
  await run(['mcopy', '-i', fat, local, '::/flatcar/vmlinuz-a'], 'Cannot copy vmlinuz-a to the demo ESP');
  const data = await readFile(fat);
  const handle = await open(disk, 'r+');
  try {
    await handle.write(data, 0, data.length, esp.byteOffset);
  } finally {
    await handle.close();
  }
  await rm(fat, { force: true });
  await rm(local, { force: true });
}

/** The kernel files on the ESP: name, size, SHA-256 prefix and the kernel's first line. */
export async function listKernels(disk: string): Promise<string[]> {
  const esp = await findEspPartition(disk);
  if (!esp) return [];
  const image = `${disk}@@${esp.byteOffset}`;
  const names = (await run(['mdir', '-b', '-i', image, '::/flatcar'], 'Cannot list the demo ESP'))
    .split('\n')
    .map((l) => l.trim().split('/').pop() ?? '')
    .filter((n) => n.startsWith('vmlinuz'));
  const lines: string[] = [];
  for (const name of names.sort()) {
    const stdout = await execArgvBytes(['mcopy', '-n', '-i', image, `::/flatcar/${name}`, '-']);
    const first = stdout.subarray(0, Math.max(0, stdout.indexOf(0x0a))).toString('latin1');
    lines.push(`ESP:/flatcar/${name.padEnd(9)}  ${stdout.length.toLocaleString('en')} bytes  sha256 ${sha256Prefix(stdout)}  "${first}"`);
  }
  return lines;
}

export function sha256Prefix(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex').slice(0, 16);
}
