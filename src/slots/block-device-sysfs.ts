// Maps device paths to kernel block devices through sysfs: a partition's number and its parent
// disk (/sys/class/block/<name>/partition and the parent directory), through device-mapper
// (slaves/) when /usr is a dm-verity or dm-linear device. Every path is injectable for tests.

import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface BlockPaths {
  /** sysfs block class directory, normally /sys/class/block. */
  sysBlock: string;
  /** Device directory, normally /dev. */
  dev: string;
}

export interface PartitionDevice {
  /** Kernel name of the partition, e.g. vda3, loop0p3. */
  name: string;
  partition: number;
  /** Kernel name of the whole disk, e.g. vda, loop0. */
  diskName: string;
  /** The disk's device path under `paths.dev`, e.g. /dev/vda. */
  diskPath: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** A device path as seen through `paths.dev` (/dev/vda3 -> <dev>/vda3); other paths unchanged. */
export function underDev(devicePath: string, paths: BlockPaths): string {
  return devicePath.startsWith('/dev/') ? join(paths.dev, devicePath.slice('/dev/'.length)) : devicePath;
}

/** The kernel name behind a device path (symlinks such as /dev/mapper/usr resolved). */
export async function kernelNameOf(devicePath: string, paths: BlockPaths): Promise<string | undefined> {
  const resolved = await realpath(underDev(devicePath, paths)).catch(() => undefined);
  return resolved === undefined ? undefined : basename(resolved);
}

/**
 * The partition behind kernel device `name`: itself when sysfs says it is a partition, or the one
 * device under a device-mapper device (slaves/), followed up to a few levels. Undefined otherwise.
 */
export async function partitionOf(name: string, paths: BlockPaths, depth = 0): Promise<PartitionDevice | undefined> {
  const dir = join(paths.sysBlock, name);
  const number = await readText(join(dir, 'partition'));
  if (number !== undefined && /^\d+$/.test(number)) {
    // In sysfs a partition's directory sits inside its disk's; without that (a flat tree), the name tells.
    const [real, classDir] = await Promise.all([realpath(dir).catch(() => undefined), realpath(paths.sysBlock).catch(() => undefined)]);
    const nested = real !== undefined && dirname(real) !== classDir;
    const diskName = nested ? basename(dirname(real)) : name.replace(/p?\d+$/, '');
    return { name, partition: Number(number), diskName, diskPath: join(paths.dev, diskName) };
  }
  if (depth >= 4) return undefined;
  const slaves = await readdir(join(dir, 'slaves')).catch(() => [] as string[]);
  if (slaves.length !== 1 || slaves[0] === undefined) return undefined;
  return partitionOf(slaves[0], paths, depth + 1);
}

/** Kernel names of whole disks (block devices that are not partitions), e.g. vda, loop0. */
export async function listWholeDisks(paths: BlockPaths): Promise<string[]> {
  const names = await readdir(paths.sysBlock).catch(() => [] as string[]);
  const disks: string[] = [];
  for (const name of names.sort()) {
    if ((await readText(join(paths.sysBlock, name, 'partition'))) === undefined) disks.push(name);
  }
  return disks;
}
