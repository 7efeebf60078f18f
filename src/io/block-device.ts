// Block device facts from stat(2) and sysfs: which device a path is or lives on, the whole disk that
// holds a partition (cgroup throttles take the whole disk's MAJ:MIN), and a device's size in bytes.

import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UpdateEngineError, wrapError } from '../errors.ts';

export interface BlockDeviceId {
  major: number;
  minor: number;
  /** Kernel name, e.g. `vda`, `loop3`, `loop3p4`, `dm-0`. */
  name: string;
  /** True for a partition (a whole disk is false). */
  isPartition: boolean;
}

/** Where sysfs is mounted; tests may point it elsewhere. */
export const DEFAULT_SYS_ROOT = '/sys';

/** Splits a Linux dev_t into major and minor numbers (glibc's gnu_dev_major/minor). */
export function splitDevT(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** Parses the `MAJ:MIN` text of a sysfs `dev` file. */
export function parseMajorMinor(text: string): { major: number; minor: number } {
  const m = /^(\d+):(\d+)\s*$/.exec(text);
  if (!m) throw new UpdateEngineError('ERR_INSTALL_DEVICE', `Not a MAJ:MIN device number: "${text.trim()}"`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Looks a device number up in sysfs (/sys/dev/block/MAJ:MIN); undefined when it is no block device. */
export async function describeBlockDevice(major: number, minor: number, sysRoot = DEFAULT_SYS_ROOT): Promise<BlockDeviceId | undefined> {
  let dir: string;
  try {
    dir = await realpath(join(sysRoot, 'dev', 'block', `${major}:${minor}`));
  } catch {
    return undefined;
  }
  const isPartition = await exists(join(dir, 'partition'));
  return { major, minor, name: basename(dir), isPartition };
}

/**
 * The block device behind a path: a device node's own numbers, or for a regular file the device its
 * file system lives on. Fails when there is none (tmpfs, overlay and other virtual file systems).
 */
export async function blockDeviceOf(path: string, sysRoot = DEFAULT_SYS_ROOT): Promise<BlockDeviceId> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (e) {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot stat "${path}"`);
  }
  const { major, minor } = splitDevT(st.isBlockDevice() ? st.rdev : st.dev);
  const dev = await describeBlockDevice(major, minor, sysRoot);
  if (!dev) {
    throw new UpdateEngineError('ERR_INSTALL_DEVICE', `"${path}" is not on a block device (device ${major}:${minor} is not in ${sysRoot}/dev/block)`);
  }
  return dev;
}

/** The whole disk holding a device: the device itself, or a partition's parent. */
export async function wholeDiskOf(dev: BlockDeviceId, sysRoot = DEFAULT_SYS_ROOT): Promise<BlockDeviceId> {
  if (!dev.isPartition) return dev;
  const dir = await realpath(join(sysRoot, 'dev', 'block', `${dev.major}:${dev.minor}`));
  const parent = dirname(dir);
  try {
    const { major, minor } = parseMajorMinor(await readFile(join(parent, 'dev'), 'utf8'));
    return { major, minor, name: basename(parent), isPartition: false };
  } catch (e) {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot find the disk holding partition "${dev.name}" (${dev.major}:${dev.minor})`);
  }
}

/** The whole disk a path is on (for cgroup throttles): device node or file alike. */
export async function diskHolding(path: string, sysRoot = DEFAULT_SYS_ROOT): Promise<BlockDeviceId> {
  return wholeDiskOf(await blockDeviceOf(path, sysRoot), sysRoot);
}

/** A device's size from sysfs (`size` counts 512-byte sectors); undefined when sysfs has no entry. */
export async function sysfsSizeBytes(major: number, minor: number, sysRoot = DEFAULT_SYS_ROOT): Promise<number | undefined> {
  try {
    const sectors = Number((await readFile(join(sysRoot, 'dev', 'block', `${major}:${minor}`, 'size'), 'utf8')).trim());
    return Number.isSafeInteger(sectors) ? sectors * 512 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A readable file's or device's size found by reading, for when sysfs is not there (Node has no
 * lseek(SEEK_END)): an exponential then binary search for the last readable 512-byte sector.
 */
export async function probeSizeByReading(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    const readable = async (sector: number) => (await fh.read(byte, 0, 1, sector * 512)).bytesRead === 1;
    if (!(await readable(0))) return 0;
    let low = 0; // known readable
    let high = 1; // first candidate past the end
    while (await readable(high)) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await readable(mid)) low = mid;
      else high = mid;
    }
    return (low + 1) * 512;
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
