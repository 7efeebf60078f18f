// The passive slot must be free before one byte is written: its own partition node (never the whole
// disk) found by device number in sysfs, not mounted (by device number, from /proc/self/mountinfo),
// not held by device-mapper/md (sysfs holders/), not open exclusively elsewhere (an O_EXCL probe).
// A refusal names the device and who holds it.

import { constants } from 'node:fs';
import { open, readFile, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { parseMajorMinor, splitDevT } from '../io/block-device.ts';

export interface GuardPaths {
  /** Normally /sys. */
  sysRoot: string;
  /** Normally /dev. */
  dev: string;
  /** Normally /proc. */
  proc: string;
}

export const SYSTEM_GUARD_PATHS: GuardPaths = { sysRoot: '/sys', dev: '/dev', proc: '/proc' };

export interface PartitionNode {
  /** The partition's device node, e.g. /dev/loop3p4. */
  path: string;
  /** Kernel name, e.g. loop3p4. */
  name: string;
  major: number;
  minor: number;
  /** Where the kernel thinks the partition starts and how long it is (sysfs start/size). */
  startBytes: number;
  sizeBytes: number;
}

export interface MountEntry {
  major: number;
  minor: number;
  mountPoint: string;
  source: string;
}

const unescapeOctal = (field: string) => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The mounts of a /proc/self/mountinfo text: device number, mount point, source (pure). */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    const m = /^(\d+):(\d+)$/.exec(fields[2] ?? '');
    if (!m || dash < 0 || fields[4] === undefined) continue;
    mounts.push({ major: Number(m[1]), minor: Number(m[2]), mountPoint: unescapeOctal(fields[4]), source: unescapeOctal(fields[dash + 2] ?? '') });
  }
  return mounts;
}

const deviceError = (message: string) => new UpdateEngineError('ERR_INSTALL_DEVICE', message);

/** The node of partition `partition` of block device `disk`, from sysfs (ERR_INSTALL_DEVICE when there is none). */
export async function partitionNodeOf(disk: string, partition: number, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<PartitionNode> {
  const st = await stat(disk, { bigint: true });
  const { major, minor } = splitDevT(st.rdev);
  const diskDir = await realpath(join(paths.sysRoot, 'dev', 'block', `${major}:${minor}`)).catch(() => undefined);
  if (diskDir === undefined) throw deviceError(`Disk "${disk}" (${major}:${minor}) is not in ${paths.sysRoot}/dev/block`);
  for (const name of await readdir(diskDir)) {
    const number = await readFile(join(diskDir, name, 'partition'), 'utf8').catch(() => undefined);
    if (number === undefined || Number(number.trim()) !== partition) continue;
    const dev = parseMajorMinor(await readFile(join(diskDir, name, 'dev'), 'utf8'));
    const sectors = async (file: string) => Number((await readFile(join(diskDir, name, file), 'utf8')).trim()) * 512;
    const path = join(paths.dev, name);
    const node = await stat(path, { bigint: true }).catch(() => undefined);
    const nodeDev = node?.isBlockDevice() ? splitDevT(node.rdev) : undefined;
    if (!nodeDev || nodeDev.major !== dev.major || nodeDev.minor !== dev.minor) {
      throw deviceError(`Partition ${partition} of "${disk}" is ${name} (${dev.major}:${dev.minor}) but "${path}" is not its device node`);
    }
    return { path, name, major: dev.major, minor: dev.minor, startBytes: await sectors('start'), sizeBytes: await sectors('size') };
  }
  throw deviceError(`The kernel knows no partition ${partition} on "${disk}" (no node to write the slot through; run partx -a ${disk})`);
}

/** Processes with `path` open (from /proc/<pid>/fd), as "pid 123 (name)". */
export async function processesHolding(path: string, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<string[]> {
  const holders: string[] = [];
  const pids = (await readdir(paths.proc).catch(() => [] as string[])).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  for (const pid of pids) {
    const fds = await readdir(join(paths.proc, pid, 'fd')).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(join(paths.proc, pid, 'fd', fd)).catch(() => '')) !== path) continue;
      const comm = (await readFile(join(paths.proc, pid, 'comm'), 'utf8').catch(() => '?')).trim();
      holders.push(`pid ${pid} (${comm})`);
      break;
    }
  }
  return holders;
}

/**
 * Refuses (ERR_INSTALL_DEVICE, naming the device and the holder) unless the partition is free:
 * not mounted anywhere (the running / or /usr included), no holders, no exclusive opener.
 */
export async function assertSlotFree(node: PartitionNode, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<void> {
  const mountinfo = await readFile(join(paths.proc, 'self', 'mountinfo'), 'utf8').catch((e: Error) => {
    throw deviceError(`Cannot read ${paths.proc}/self/mountinfo to check that "${node.path}" is not mounted: ${e.message}`);
  });
  const mounted = parseMountinfo(mountinfo).filter((m) => m.major === node.major && m.minor === node.minor);
  if (mounted.length > 0) {
    const where = mounted.map((m) => `"${m.mountPoint}"`).join(', ');
    const running = mounted.some((m) => m.mountPoint === '/' || m.mountPoint === '/usr') ? ': it is the running system (is BOOTED_PARTITION stale?)' : '';
    throw deviceError(`Passive slot "${node.path}" (${node.major}:${node.minor}) is mounted at ${where}${running}; nothing was written`);
  }
  const holders = await readdir(join(paths.sysRoot, 'dev', 'block', `${node.major}:${node.minor}`, 'holders')).catch(() => [] as string[]);
  if (holders.length > 0) {
    throw deviceError(`Passive slot "${node.path}" is held by ${holders.map((h) => `"${h}"`).join(', ')} (device-mapper or md); nothing was written`);
  }
  let probe;
  try {
    probe = await open(node.path, constants.O_RDONLY | constants.O_EXCL);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw deviceError(`Cannot open passive slot "${node.path}": ${(e as Error).message}`);
    const who = await processesHolding(node.path, paths);
    throw deviceError(
      `Passive slot "${node.path}" is in use by another writer (${who.length > 0 ? who.join(', ') : 'an exclusive opener'}); nothing was written`,
    );
  }
  await probe.close();
}
