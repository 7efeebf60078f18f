// SIGKILL inside the post-install step (root, real squashfs slot, FAT32 ESP): during the kernel
// copy and while /postinst runs, the machine still boots A with vmlinuz-a intact, nothing is left
// mounted or running, and a restarted daemon finishes the update with vmlinuz-b byte-exact.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InstallCrashMachine, type InstallKillPoint } from '../helpers/install-crash.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

async function run(point: InstallKillPoint) {
  requireRoot('mounts and mount namespaces');
  for (const tool of ['unshare', 'nsenter', 'setpriv', 'fusefat', 'mksquashfs', 'mcopy']) requireTool(tool);
  const dir = await mkdtemp(join(tmpdir(), 'ue-install-crash-'));
  const machine = new InstallCrashMachine(dir);
  try {
    await machine.setUp();
    const record = await machine.killAndCheck(point);
    return { ...record, problems: machine.problems };
  } finally {
    await machine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const survivor = {
  problems: [],
  killed: true,
  bootedPartition: 3,
  kernelAIntact: true,
  espClean: true,
  loopsLeft: 0,
  postinstLeft: 0,
  converged: true,
  kernelBExact: true,
  bootedAfter: 4,
};

describe('a crash in the post-install step', () => {
  it('during the kernel copy (after its first MiB) leaves A booting with vmlinuz-a; the restart completes on B', { timeout: 60_000 }, async () => {
    expect(await run({ kind: 'kernel-chunk', chunk: 1 })).toMatchObject(survivor);
  });

  it('while /postinst runs leaves A booting with vmlinuz-a, kills /postinst; the restart completes on B', { timeout: 60_000 }, async () => {
    expect(await run({ kind: 'postinst' })).toMatchObject(survivor);
  });
});
