// The cgroup v1 write throttle: blkio.throttle.write_bps_device "MAJ:MIN BYTES" on the whole disk,
// in a cgroup created below the process's own blkio cgroup. v1 paces only IO the task submits itself
// (fsync, O_DSYNC, O_DIRECT), so whoever writes through it must sync as it goes (REFERENCE §6).

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import type { CgroupEnvironment } from './cgroup-paths.ts';
import { cgroupDirOf, v1PathOf } from './cgroup-paths.ts';
import { ownCgroupName, type CgroupThrottlePlan } from './cgroup-throttle.ts';

export interface DiskNumbers {
  major: number;
  minor: number;
}

export const BLKIO_WRITE_BPS_FILE = 'blkio.throttle.write_bps_device';

/** The line blkio.throttle.write_bps_device takes. */
export function blkioLimitLine(disk: DiskNumbers, bytesPerSecond: number): string {
  return `${disk.major}:${disk.minor} ${Math.max(1, Math.round(bytesPerSecond))}`;
}

/** Plans a v1 blkio throttle for `pid`; fails when the hierarchy or the throttle files are missing. */
export async function planBlkioThrottle(env: CgroupEnvironment, disk: DiskNumbers, bytesPerSecond: number, pid = process.pid): Promise<CgroupThrottlePlan> {
  const mount = env.mounts.v1Blkio;
  if (!mount) throw new UpdateEngineError('ERR_INSTALL_DEVICE', 'No cgroup v1 hierarchy with the blkio controller is mounted');
  const own = v1PathOf(env.cgroups, 'blkio') ?? '/';
  const homeDir = cgroupDirOf(mount, own);
  try {
    await access(join(homeDir, BLKIO_WRITE_BPS_FILE));
  } catch {
    throw new UpdateEngineError('ERR_INSTALL_DEVICE', `"${join(homeDir, BLKIO_WRITE_BPS_FILE)}" is missing: the kernel has no blkio throttling`);
  }
  const line = blkioLimitLine(disk, bytesPerSecond);
  return {
    mechanism: 'cgroup-v1',
    groupDir: join(homeDir, ownCgroupName(pid)),
    homeDir,
    limitFile: BLKIO_WRITE_BPS_FILE,
    limitLine: line,
    isLimitSet: (text) => text.split('\n').some((l) => l.trim() === line),
  };
}
