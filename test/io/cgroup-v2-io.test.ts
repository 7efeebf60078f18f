// The cgroup v2 io.max plan against a directory laid out like a cgroup2 mount (this machine's v2
// hierarchy has no io controller, so the real lifecycle is covered by the v1 tests): where the
// cgroup goes, the io.max line, enabling +io in the parent, and refusing when io is unavailable.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ioMaxHasLimit, ioMaxLimitLine, planIoMaxThrottle } from '../../src/io/cgroup-v2-io.ts';
import type { CgroupEnvironment } from '../../src/io/cgroup-paths.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ue-io-v2-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function env(ownPath: string): CgroupEnvironment {
  return { mounts: { v2: root }, cgroups: [{ hierarchyId: 0, controllers: [], path: ownPath }] };
}

describe('planIoMaxThrottle', () => {
  it('writes wbps for the whole disk and recognises the kernel form of io.max', () => {
    expect(ioMaxLimitLine({ major: 254, minor: 0 }, 41943040)).toBe('254:0 wbps=41943040');
    expect(ioMaxLimitLine({ major: 7, minor: 2 }, 0.4)).toBe('7:2 wbps=1');
    const kernel = '8:16 rbps=max wbps=5 riops=max wiops=max\n254:0 rbps=max wbps=41943040 riops=max wiops=max\n';
    expect(ioMaxHasLimit(kernel, { major: 254, minor: 0 }, 41943040)).toBe(true);
    expect(ioMaxHasLimit(kernel, { major: 254, minor: 0 }, 4194304)).toBe(false);
    expect(ioMaxHasLimit(kernel, { major: 8, minor: 1 }, 5)).toBe(false);
  });

  it('places the cgroup next to the process cgroup and enables +io in the parent', async () => {
    const parent = join(root, 'system.slice', 'update-engine.service');
    await mkdir(join(parent, 'main'), { recursive: true });
    await writeFile(join(parent, 'cgroup.controllers'), 'cpu io memory pids\n');
    await writeFile(join(parent, 'cgroup.subtree_control'), 'memory\n');
    const plan = await planIoMaxThrottle(env('/system.slice/update-engine.service/main'), { major: 254, minor: 0 }, 8 << 20, 4242);
    expect(plan.mechanism).toBe('cgroup-v2');
    expect(plan.homeDir).toBe(join(parent, 'main'));
    expect(plan.groupDir).toMatch(new RegExp(`^${parent}/update-engine-io\\.4242\\.\\d+$`));
    expect(plan.limitFile).toBe('io.max');
    expect(plan.limitLine).toBe('254:0 wbps=8388608');
    await plan.prepare?.();
    expect(await readFile(join(parent, 'cgroup.subtree_control'), 'utf8')).toBe('+io\n');
  });

  it('leaves subtree_control alone when io is already enabled; uses the root for a process at the root', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'io\n');
    await writeFile(join(root, 'cgroup.subtree_control'), 'cpu io\n');
    const plan = await planIoMaxThrottle(env('/'), { major: 7, minor: 0 }, 1000);
    expect(plan.homeDir).toBe(root);
    expect(plan.groupDir.startsWith(`${root}/update-engine-io.${process.pid}.`)).toBe(true);
    await plan.prepare?.();
    expect(await readFile(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('cpu io\n');
  });

  it('refuses when the io controller is not available, or there is no v2 mount', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'hugetlb\n');
    await expect(planIoMaxThrottle(env('/'), { major: 7, minor: 0 }, 1000)).rejects.toThrow(
      `The io controller is not available in cgroup v2 at "${root}" (controllers: "hugetlb"); it may be bound to cgroup v1 blkio`,
    );
    await expect(planIoMaxThrottle({ mounts: {}, cgroups: [] }, { major: 7, minor: 0 }, 1000)).rejects.toThrow('No cgroup v2 hierarchy is mounted');
  });
});
