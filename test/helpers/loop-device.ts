// Loop devices for tests (root only): attach an image with `losetup -fP --show`, add its partition
// nodes with `partx -a` (this kernel does not parse GPT itself), and always detach by name.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
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
