// The life of a cgroup write throttle, shared by cgroup v1 (blkio) and v2 (io.max): create our own
// cgroup, set the limit, verify it, move the process in; dispose() moves every process in it back to
// where this one came from and removes the cgroup. Only directories this code created are removed.

import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError, wrapError } from '../errors.ts';

export type CgroupMechanism = 'cgroup-v2' | 'cgroup-v1';

/** What to create and write; built by cgroup-v1-blkio.ts and cgroup-v2-io.ts. */
export interface CgroupThrottlePlan {
  mechanism: CgroupMechanism;
  /** The cgroup directory to create; it must not exist yet. */
  groupDir: string;
  /** The cgroup directory the process is in now, to return to. */
  homeDir: string;
  /** Work before the cgroup is created (v2: enable the io controller in the parent). */
  prepare?: () => Promise<void>;
  /** The limit file inside groupDir and the line to write to it. */
  limitFile: string;
  limitLine: string;
  /** True when the limit file's text shows the limit in force. */
  isLimitSet(text: string): boolean;
}

export interface CgroupThrottle {
  readonly mechanism: CgroupMechanism;
  readonly groupDir: string;
  /** For logs, e.g. `blkio.throttle.write_bps_device "7:0 8388608"`. */
  readonly summary: string;
  /** Moves the processes back and removes the cgroup; safe to call twice. */
  dispose(): Promise<void>;
}

let sequence = 0;
let active: string | undefined;

/** A name for our cgroup that says whose it is: `update-engine-io.<pid>.<n>`. */
export function ownCgroupName(pid: number): string {
  sequence += 1;
  return `update-engine-io.${pid}.${sequence}`;
}

async function movePid(cgroupDir: string, pid: number): Promise<void> {
  await writeFile(join(cgroupDir, 'cgroup.procs'), `${pid}\n`);
}

async function pidsIn(cgroupDir: string): Promise<number[]> {
  const text = await readFile(join(cgroupDir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/** Moves everything in groupDir home (the process, and children started while it was inside), then removes it. */
async function leaveAndRemove(groupDir: string, homeDir: string, pid: number): Promise<void> {
  await movePid(homeDir, pid);
  for (let attempt = 0; ; attempt++) {
    for (const other of await pidsIn(groupDir)) await movePid(homeDir, other).catch(() => {});
    try {
      await rmdir(groupDir);
      return;
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno === 'ENOENT') return;
      if (errno !== 'EBUSY' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Carries out a plan: afterwards `pid` is throttled. Undoes its own steps when one fails. */
export async function enterCgroupThrottle(plan: CgroupThrottlePlan, pid = process.pid): Promise<CgroupThrottle> {
  const what = `the ${plan.mechanism} write throttle at "${plan.groupDir}"`;
  if (active) throw new UpdateEngineError('ERR_INSTALL_DEVICE', `Cannot set up ${what}: this process is already in "${active}"`);
  await stat(plan.homeDir).catch((e: unknown) => {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot set up ${what}: the current cgroup "${plan.homeDir}" is not there`);
  });
  let created = false;
  let moved = false;
  try {
    await plan.prepare?.();
    await mkdir(plan.groupDir);
    created = true;
    const limitPath = join(plan.groupDir, plan.limitFile);
    await writeFile(limitPath, `${plan.limitLine}\n`);
    const readBack = await readFile(limitPath, 'utf8');
    if (!plan.isLimitSet(readBack)) {
      throw new Error(`${plan.limitFile} reads "${readBack.trim()}" after writing "${plan.limitLine}"`);
    }
    await movePid(plan.groupDir, pid);
    moved = true;
  } catch (e) {
    if (moved || created) await leaveAndRemove(plan.groupDir, plan.homeDir, pid).catch(() => {});
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot set up ${what}`);
  }
  active = plan.groupDir;
  let disposed: Promise<void> | undefined;
  return {
    mechanism: plan.mechanism,
    groupDir: plan.groupDir,
    summary: `${plan.limitFile} "${plan.limitLine}"`,
    dispose() {
      disposed ??= leaveAndRemove(plan.groupDir, plan.homeDir, pid).then(
        () => {
          active = undefined;
        },
        (e: unknown) => {
          active = undefined;
          throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot remove the cgroup "${plan.groupDir}"`);
        },
      );
      return disposed;
    },
  };
}
