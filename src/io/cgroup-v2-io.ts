// The cgroup v2 write throttle: io.max "MAJ:MIN wbps=BYTES" on the whole disk. v2 also paces
// writeback, so plain buffered writes are limited too. The cgroup is a sibling of the process's own
// (v2 allows processes only in leaves): with systemd, run the unit with Delegate=io and
// DelegateSubgroup=main so that the parent is the delegated service cgroup; at the root it is the root.

import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import type { CgroupEnvironment } from './cgroup-paths.ts';
import { cgroupDirOf, v2PathOf } from './cgroup-paths.ts';
import { ownCgroupName, type CgroupThrottlePlan } from './cgroup-throttle.ts';
import type { DiskNumbers } from './cgroup-v1-blkio.ts';

/** The line io.max takes for a write limit. */
export function ioMaxLimitLine(disk: DiskNumbers, bytesPerSecond: number): string {
  return `${disk.major}:${disk.minor} wbps=${Math.max(1, Math.round(bytesPerSecond))}`;
}

/** True when io.max's text shows the write limit for the disk (the kernel adds rbps=max and the rest). */
export function ioMaxHasLimit(text: string, disk: DiskNumbers, bytesPerSecond: number): boolean {
  const wanted = `wbps=${Math.max(1, Math.round(bytesPerSecond))}`;
  return text.split('\n').some((l) => l.startsWith(`${disk.major}:${disk.minor} `) && l.split(/\s+/).includes(wanted));
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** Plans a v2 io.max throttle for `pid`; fails when there is no v2 mount or its io controller is not available. */
export async function planIoMaxThrottle(env: CgroupEnvironment, disk: DiskNumbers, bytesPerSecond: number, pid = process.pid): Promise<CgroupThrottlePlan> {
  const mount = env.mounts.v2;
  if (!mount) throw new UpdateEngineError('ERR_INSTALL_DEVICE', 'No cgroup v2 hierarchy is mounted');
  const own = v2PathOf(env.cgroups) ?? '/';
  const parentDir = cgroupDirOf(mount, own === '/' ? '/' : dirname(own));
  const controllers = words(await readFile(join(parentDir, 'cgroup.controllers'), 'utf8').catch(() => ''));
  if (!controllers.includes('io')) {
    throw new UpdateEngineError(
      'ERR_INSTALL_DEVICE',
      `The io controller is not available in cgroup v2 at "${parentDir}" (controllers: "${controllers.join(' ')}"); it may be bound to cgroup v1 blkio`,
    );
  }
  const line = ioMaxLimitLine(disk, bytesPerSecond);
  return {
    mechanism: 'cgroup-v2',
    groupDir: join(parentDir, ownCgroupName(pid)),
    homeDir: cgroupDirOf(mount, own),
    prepare: async () => {
      const subtreeFile = join(parentDir, 'cgroup.subtree_control');
      if (!words(await readFile(subtreeFile, 'utf8')).includes('io')) await writeFile(subtreeFile, '+io\n');
    },
    limitFile: 'io.max',
    limitLine: line,
    isLimitSet: (text) => ioMaxHasLimit(text, disk, bytesPerSecond),
  };
}
