// The cgroup lifecycle against the real cgroup v1 blkio hierarchy (root): create, limit, move in;
// dispose moves this process and the children it started back and removes only our cgroup; a
// failed step undoes the earlier ones; one throttle per process at a time.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCgroupEnvironment, v1PathOf } from '../../src/io/cgroup-paths.ts';
import { enterCgroupThrottle } from '../../src/io/cgroup-throttle.ts';
import { planBlkioThrottle } from '../../src/io/cgroup-v1-blkio.ts';
import { blockDeviceOf, type BlockDeviceId } from '../../src/io/block-device.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { attachLoop, detachLoop } from '../helpers/loop-device.ts';

let dir: string;
let loop: string | undefined;
let disk: BlockDeviceId;

async function blkioPathOf(pid: number | 'self'): Promise<string | undefined> {
  const { parseProcCgroup } = await import('../../src/io/cgroup-paths.ts');
  return v1PathOf(parseProcCgroup(await readFile(`/proc/${pid}/cgroup`, 'utf8')), 'blkio');
}

async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    () => true,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-io-cgroup-'));
  requireRoot('cgroups and loop devices');
  requireTool('losetup');
  const image = join(dir, 'disk.img');
  await writeFile(image, '');
  await truncate(image, 16 * 1024 * 1024);
  loop = await attachLoop(image);
  disk = await blockDeviceOf(loop);
});
afterAll(async () => {
  if (loop) await detachLoop(loop);
  await rm(dir, { recursive: true, force: true });
});

describe('enterCgroupThrottle with cgroup v1 blkio', () => {
  it('moves the process in with the limit set, and dispose() moves it and its children out and removes the cgroup', async () => {
    const env = await readCgroupEnvironment();
    const home = await blkioPathOf('self');
    const plan = await planBlkioThrottle(env, disk, 8 * 1024 * 1024);
    const throttle = await enterCgroupThrottle(plan);
    let child: ReturnType<typeof spawn> | undefined;
    try {
      expect(throttle.mechanism).toBe('cgroup-v1');
      expect(throttle.summary).toBe(`blkio.throttle.write_bps_device "${disk.major}:${disk.minor} 8388608"`);
      expect(await readFile(join(plan.groupDir, 'blkio.throttle.write_bps_device'), 'utf8')).toContain(`${disk.major}:${disk.minor} 8388608`);
      expect(await blkioPathOf('self')).toMatch(/\/update-engine-io\.\d+\.\d+$/);
      child = spawn('sleep', ['30'], { stdio: 'ignore' });
      const childPid = child.pid as number;
      expect((await readFile(join(plan.groupDir, 'cgroup.procs'), 'utf8')).split('\n')).toContain(String(childPid));
      await throttle.dispose();
      expect(await blkioPathOf('self')).toBe(home);
      expect(await blkioPathOf(childPid)).toBe(home);
      expect(await gone(plan.groupDir)).toBe(true);
      await throttle.dispose(); // twice is fine
    } finally {
      child?.kill('SIGKILL');
      await throttle.dispose();
    }
  });

  it('undoes its steps when the kernel refuses the limit, leaving no cgroup behind', async () => {
    const env = await readCgroupEnvironment();
    const home = await blkioPathOf('self');
    // A partition's numbers are refused by blkio (it wants the whole disk); so is a device that does not exist.
    const plan = await planBlkioThrottle(env, { major: 1, minor: 4000 }, 1000);
    await expect(enterCgroupThrottle(plan)).rejects.toThrow(new RegExp(`^Cannot set up the cgroup-v1 write throttle at "${plan.groupDir}": `));
    expect(await gone(plan.groupDir)).toBe(true);
    expect(await blkioPathOf('self')).toBe(home);
  });

  it('allows one throttle per process at a time', async () => {
    const env = await readCgroupEnvironment();
    const first = await enterCgroupThrottle(await planBlkioThrottle(env, disk, 1 << 20));
    try {
      const second = await planBlkioThrottle(env, disk, 1 << 20);
      await expect(enterCgroupThrottle(second)).rejects.toThrow(`this process is already in "${first.groupDir}"`);
      expect(await gone(second.groupDir)).toBe(true);
    } finally {
      await first.dispose();
    }
    expect(await gone(first.groupDir)).toBe(true);
  });
});
