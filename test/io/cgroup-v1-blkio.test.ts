// The cgroup v1 blkio plan: the limit line, where the cgroup goes (below the process's own blkio
// cgroup), and refusing when the hierarchy or the throttle files are missing. The real kernel side
// is in cgroup-throttle.test.ts and write-throttle.test.ts.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLKIO_WRITE_BPS_FILE, blkioLimitLine, planBlkioThrottle } from '../../src/io/cgroup-v1-blkio.ts';
import type { CgroupEnvironment } from '../../src/io/cgroup-paths.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ue-io-v1-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function env(ownPath: string | undefined): CgroupEnvironment {
  return { mounts: { v1Blkio: root }, cgroups: ownPath === undefined ? [] : [{ hierarchyId: 7, controllers: ['blkio'], path: ownPath }] };
}

describe('planBlkioThrottle', () => {
  it('limits the whole disk by MAJ:MIN in whole bytes per second', () => {
    expect(blkioLimitLine({ major: 254, minor: 0 }, 40 * 1024 * 1024)).toBe('254:0 41943040');
    expect(blkioLimitLine({ major: 7, minor: 3 }, 1000.6)).toBe('7:3 1001');
  });

  it('creates the cgroup below the process blkio cgroup, and returns there', async () => {
    await mkdir(join(root, 'system.slice'));
    await writeFile(join(root, 'system.slice', BLKIO_WRITE_BPS_FILE), '');
    const plan = await planBlkioThrottle(env('/system.slice'), { major: 7, minor: 1 }, 8 << 20, 99);
    expect(plan.mechanism).toBe('cgroup-v1');
    expect(plan.homeDir).toBe(join(root, 'system.slice'));
    expect(plan.groupDir).toMatch(new RegExp(`^${root}/system.slice/update-engine-io\\.99\\.\\d+$`));
    expect(plan.limitLine).toBe('7:1 8388608');
    expect(plan.isLimitSet('7:1 8388608\n')).toBe(true);
    expect(plan.isLimitSet('7:1 838860\n7:2 8388608\n')).toBe(false);
  });

  it('uses the mount root when /proc says nothing about blkio', async () => {
    await writeFile(join(root, BLKIO_WRITE_BPS_FILE), '');
    const plan = await planBlkioThrottle(env(undefined), { major: 7, minor: 1 }, 1);
    expect(plan.homeDir).toBe(root);
  });

  it('refuses without a blkio hierarchy or without throttling files', async () => {
    await expect(planBlkioThrottle({ mounts: {}, cgroups: [] }, { major: 7, minor: 0 }, 1)).rejects.toThrow(
      'No cgroup v1 hierarchy with the blkio controller is mounted',
    );
    await expect(planBlkioThrottle(env('/'), { major: 7, minor: 0 }, 1)).rejects.toThrow(
      `"${root}/${BLKIO_WRITE_BPS_FILE}" is missing: the kernel has no blkio throttling`,
    );
  });
});
