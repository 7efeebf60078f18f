// The IO_WRITE_BPS throttle, best mechanism first: cgroup v2 io.max, then cgroup v1 blkio, then a
// token bucket in user space. The process itself moves into the cgroup (see below); each mechanism
// that cannot be set up is logged as a warning and the next one is tried. The chosen one is logged.

import type { Logger } from '../platform/logger.ts';
import type { Clock } from '../platform/clock.ts';
import { diskHolding, type BlockDeviceId } from './block-device.ts';
import { readCgroupEnvironment, type CgroupEnvironment } from './cgroup-paths.ts';
import { enterCgroupThrottle, type CgroupThrottle } from './cgroup-throttle.ts';
import { planBlkioThrottle } from './cgroup-v1-blkio.ts';
import { planIoMaxThrottle } from './cgroup-v2-io.ts';
import { ThrottledWriteTarget } from './throttled-write-target.ts';
import { latenessAllowanceBytes, TokenBucket } from './token-bucket.ts';
import type { WriteTarget } from './write-target.ts';

export type ThrottleMechanism = 'none' | 'cgroup-v2' | 'cgroup-v1' | 'token-bucket';
export type LimitingMechanism = Exclude<ThrottleMechanism, 'none'>;
export const DEFAULT_MECHANISMS: readonly LimitingMechanism[] = ['cgroup-v2', 'cgroup-v1', 'token-bucket'];

/** Syncing every 4 MiB keeps dirty page cache small and lets cgroup v1 see (and pace) every byte. */
export const DEFAULT_THROTTLED_SYNC_EVERY_BYTES = 4 * 1024 * 1024;

export interface WriteThrottleOptions {
  /** The limit in bytes per second; 0 = none. */
  bytesPerSecond: number;
  /** The slot's device node, or any file on the disk holding the slot (for the cgroup's MAJ:MIN). */
  targetDevice?: string | undefined;
  logger: Logger;
  clock?: Clock;
  /** Mechanisms to try, in order (default: cgroup-v2, cgroup-v1, token-bucket). */
  mechanisms?: readonly LimitingMechanism[];
  /** Sync as it goes every this many bytes (default 4 MiB). */
  syncEveryBytes?: number;
  /** The cgroup mounts and this process's cgroups (default: read from /proc). */
  environment?: CgroupEnvironment;
  /** Where sysfs is mounted (default /sys). */
  sysRoot?: string;
}

export interface WriteThrottle {
  readonly mechanism: ThrottleMechanism;
  readonly bytesPerSecond: number;
  /** The whole disk the cgroup limit applies to (cgroup mechanisms). */
  readonly disk?: BlockDeviceId;
  /** Our cgroup's directory (cgroup mechanisms). */
  readonly cgroupDir?: string;
  /** The target to write through: paced by the bucket, or synced as it goes for the cgroup. */
  wrap(target: WriteTarget, options?: { signal?: AbortSignal }): WriteTarget;
  /** Leaves and removes the cgroup (errors are logged, not thrown); safe to call twice. */
  dispose(): Promise<void>;
}

/** `41943040` -> `40 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  const mib = bytesPerSecond / (1024 * 1024);
  return mib >= 1 ? `${Number(mib.toFixed(2))} MiB/s` : `${Number((bytesPerSecond / 1024).toFixed(2))} KiB/s`;
}

/**
 * Sets up the write throttle. Why the process moves into the cgroup rather than writing from a child
 * placed there: the apply hashes, verifies and writes in one stream in this process; a child would
 * need a second copy of every byte through a pipe and its own error and read-back path. The process
 * is in the cgroup only between create and dispose(), and the limit applies only to the slot's disk.
 */
export async function createWriteThrottle(options: WriteThrottleOptions): Promise<WriteThrottle> {
  const { bytesPerSecond, logger } = options;
  const syncEveryBytes = options.syncEveryBytes ?? DEFAULT_THROTTLED_SYNC_EVERY_BYTES;
  if (!(bytesPerSecond > 0)) {
    return { mechanism: 'none', bytesPerSecond: 0, wrap: (t) => t, dispose: async () => {} };
  }
  const log = logger.child({ component: 'write-throttle' });
  const order = options.mechanisms ?? DEFAULT_MECHANISMS;
  let disk: BlockDeviceId | undefined;
  let diskProblem = 'no target device was given';
  if (options.targetDevice && order.some((m) => m !== 'token-bucket')) {
    try {
      disk = await diskHolding(options.targetDevice, options.sysRoot);
    } catch (e) {
      diskProblem = e instanceof Error ? e.message : String(e);
    }
  }
  let environment = options.environment;
  for (const mechanism of order) {
    if (mechanism === 'token-bucket') break;
    try {
      if (!disk) throw new Error(diskProblem);
      environment ??= await readCgroupEnvironment();
      const plan =
        mechanism === 'cgroup-v2' ? await planIoMaxThrottle(environment, disk, bytesPerSecond) : await planBlkioThrottle(environment, disk, bytesPerSecond);
      const cgroup = await enterCgroupThrottle(plan);
      log.info(
        { mechanism, bytesPerSecond, disk: `${disk.name} (${disk.major}:${disk.minor})`, cgroup: cgroup.groupDir },
        `IO write throttle: ${formatRate(bytesPerSecond)} by ${mechanism} ${cgroup.summary}`,
      );
      return cgroupThrottle(cgroup, bytesPerSecond, disk, syncEveryBytes, log);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      log.warn({ mechanism, reason }, `IO write throttle: ${mechanism} is not usable (${reason}); trying the next mechanism`);
    }
  }
  if (!order.includes('token-bucket')) {
    log.warn({ bytesPerSecond }, 'IO write throttle: no mechanism could be set up; writes are not limited');
    return { mechanism: 'none', bytesPerSecond: 0, wrap: (t) => t, dispose: async () => {} };
  }
  const bucket = new TokenBucket({ bytesPerSecond, burstBytes: latenessAllowanceBytes(bytesPerSecond), clock: options.clock });
  const fallback = order[0] !== 'token-bucket';
  const message = `IO write throttle: ${formatRate(bytesPerSecond)} by token-bucket${fallback ? ' (fallback)' : ''}`;
  if (fallback) log.warn({ mechanism: 'token-bucket', bytesPerSecond }, message);
  else log.info({ mechanism: 'token-bucket', bytesPerSecond }, message);
  return {
    mechanism: 'token-bucket',
    bytesPerSecond,
    wrap: (target, wrapOptions) => new ThrottledWriteTarget(target, { bucket, syncEveryBytes, signal: wrapOptions?.signal }),
    dispose: async () => {},
  };
}

function cgroupThrottle(cgroup: CgroupThrottle, bytesPerSecond: number, disk: BlockDeviceId, syncEveryBytes: number, log: Logger): WriteThrottle {
  return {
    mechanism: cgroup.mechanism,
    bytesPerSecond,
    disk,
    cgroupDir: cgroup.groupDir,
    wrap: (target) => new ThrottledWriteTarget(target, { syncEveryBytes }),
    dispose: async () => {
      try {
        await cgroup.dispose();
        log.info({ cgroup: cgroup.groupDir }, 'IO write throttle: left and removed the cgroup');
      } catch (e) {
        log.error({ cgroup: cgroup.groupDir, err: e }, `IO write throttle: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}
