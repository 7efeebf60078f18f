// Parsing /proc/self/mounts and /proc/<pid>/cgroup, and reading them from a given proc root.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCgroupMounts, parseProcCgroup, readCgroupEnvironment, v1PathOf, v2PathOf } from '../../src/io/cgroup-paths.ts';

const HYBRID_MOUNTS = [
  '/dev/vda / ext4 rw,relatime 0 0',
  'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
  'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
  'cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0',
  'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
].join('\n');

const HYBRID_CGROUP = ['9:name=systemd:/', '7:blkio:/system.slice/x.service', '4:memory:/a', '1:cpu,cpuacct:/', '0::/system.slice/x.service', ''].join('\n');

describe('cgroup paths', () => {
  it('finds the v2 mount and the v1 blkio mount', () => {
    expect(parseCgroupMounts(HYBRID_MOUNTS)).toEqual({ v2: '/sys/fs/cgroup/unified', v1Blkio: '/sys/fs/cgroup/blkio' });
    expect(parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0')).toEqual({ v2: '/sys/fs/cgroup' });
    expect(parseCgroupMounts('cgroup /mnt/my\\040cg cgroup rw,blkio,cpu 0 0')).toEqual({ v1Blkio: '/mnt/my cg' });
    expect(parseCgroupMounts('')).toEqual({});
  });

  it('finds the process cgroup in each hierarchy', () => {
    const entries = parseProcCgroup(HYBRID_CGROUP);
    expect(entries).toHaveLength(5);
    expect(entries[3]).toEqual({ hierarchyId: 1, controllers: ['cpu', 'cpuacct'], path: '/' });
    expect(v1PathOf(entries, 'blkio')).toBe('/system.slice/x.service');
    expect(v1PathOf(entries, 'io')).toBeUndefined();
    expect(v2PathOf(entries)).toBe('/system.slice/x.service');
    expect(v2PathOf(parseProcCgroup('7:blkio:/'))).toBeUndefined();
  });

  it('reads both files under a proc root', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ue-io-proc-'));
    try {
      await mkdir(join(root, 'self'));
      await mkdir(join(root, '4242'));
      await writeFile(join(root, 'self', 'mounts'), HYBRID_MOUNTS);
      await writeFile(join(root, '4242', 'cgroup'), HYBRID_CGROUP);
      const env = await readCgroupEnvironment(4242, root);
      expect(env.mounts.v1Blkio).toBe('/sys/fs/cgroup/blkio');
      expect(v2PathOf(env.cgroups)).toBe('/system.slice/x.service');
      const missing = await readCgroupEnvironment(1, join(root, 'nothing'));
      expect(missing).toEqual({ mounts: {}, cgroups: [] });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('cgroupDirOf', () => {
  it('joins a cgroup path to its mount without trailing slashes', async () => {
    const { cgroupDirOf } = await import('../../src/io/cgroup-paths.ts');
    expect(cgroupDirOf('/sys/fs/cgroup/blkio', '/')).toBe('/sys/fs/cgroup/blkio');
    expect(cgroupDirOf('/sys/fs/cgroup/', '/a/b/')).toBe('/sys/fs/cgroup/a/b');
    expect(cgroupDirOf('/', '/')).toBe('/');
  });
});
