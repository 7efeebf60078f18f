// Loop devices for tests (root only): attach an image with `losetup -fP --show`, add its partition
// nodes with `partx -a` (this kernel does not parse GPT itself), and always detach by name. Below, the
// same steps one by one (async) for the io tests. Never touches a device we did not create.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { execArgv } from '../../src/platform/exec.ts';
import { requireRoot, requireTool } from './tools.ts';

export interface LoopDevice {
  /** e.g. /dev/loop3 */
  path: string;
  /** Kernel name, e.g. loop3 */
  name: string;
  /** Node of partition `n`, e.g. /dev/loop3p4 */
  partitionPath(n: number): string;
}

export interface LoopOptions {
  /** Logical sector size of the device (losetup --sector-size). */
  sectorSizeBytes?: number;
}

/** Attaches `image`; the caller must detach (prefer withLoopDevice). */
export function attachLoopDevice(image: string, options: LoopOptions = {}): LoopDevice {
  requireRoot('loop devices');
  requireTool('losetup');
  requireTool('partx');
  const args = ['-fP', '--show', ...(options.sectorSizeBytes ? ['--sector-size', String(options.sectorSizeBytes)] : []), image];
  const path = execFileSync('losetup', args, { encoding: 'utf8' }).trim();
  const loop: LoopDevice = { path, name: basename(path), partitionPath: (n) => `${path}p${n}` };
  const added = spawnSync('partx', ['-a', path], { encoding: 'utf8' });
  if (added.status !== 0 && !existsSync(loop.partitionPath(1)) && !existsSync(loop.partitionPath(3))) {
    detachLoopDevice(loop);
    throw new Error(`partx -a ${path} failed: ${added.stderr}`);
  }
  return loop;
}

/** Removes the partition nodes and detaches the device (by its own name only). */
export function detachLoopDevice(loop: LoopDevice): void {
  spawnSync('partx', ['-d', loop.path], { stdio: 'ignore' });
  execFileSync('losetup', ['-d', loop.path], { stdio: 'pipe' });
}

/** Runs `use` with `image` attached as a loop device, and detaches it afterwards, whatever happens. */
export async function withLoopDevice<T>(image: string, options: LoopOptions, use: (loop: LoopDevice) => Promise<T>): Promise<T> {
  const loop = attachLoopDevice(image, options);
  try {
    return await use(loop);
  } finally {
    detachLoopDevice(loop);
  }
}

/** Runs a tool; throws with its stderr when it fails. */
export async function runTool(argv: string[]): Promise<string> {
  const r = await execArgv(argv, { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Attaches an image file to a free loop device (no partition scan) and returns its node, e.g. /dev/loop3. */
export async function attachLoop(imagePath: string): Promise<string> {
  return runTool(['losetup', '--find', '--show', imagePath]);
}

/** Detaches the loop device we attached (by its own name). */
export async function detachLoop(device: string): Promise<void> {
  await runTool(['losetup', '--detach', device]);
}

/** Adds the partition nodes of a loop device (the kernel here does not scan GPTs by itself). */
export async function addPartitions(device: string): Promise<void> {
  await runTool(['partx', '--add', device]);
}

/** Removes the partition nodes again before detaching. */
export async function deletePartitions(device: string): Promise<void> {
  await runTool(['partx', '--delete', device]);
}

/** Unmounts what a test mounted. */
export async function unmount(dir: string): Promise<void> {
  await runTool(['umount', dir]);
}
