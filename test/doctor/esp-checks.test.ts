// doctor's ESP and kernel checks (root): a FAT32 ESP FUSE-mounted with fusefat on a loop device,
// read-write and read-only, and not mounted at all; KERNEL_DIR with and without the running kernel.

import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { checkEsp } from '../../src/doctor/esp-checks.ts';
import { createDiskImage } from '../../src/slots/index.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';
import { makeEsp, startFusefat } from '../helpers/os-image.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

let dir: string;
let disk: string;
beforeEach(async () => {
  requireRoot('loop devices and FUSE mounts');
  requireTool('fusefat');
  dir = await mkdtemp(join(tmpdir(), 'ue-doctor-esp-'));
  disk = join(dir, 'disk.img');
  await createDiskImage(disk, { usrSizeBytes: 4 * 1024 * 1024, efiSizeBytes: 40 * 1024 * 1024, overwrite: true });
  await makeEsp(disk, { 'flatcar/vmlinuz-a': Buffer.from('kernel a') }, dir);
  mkdirSync(join(dir, 'esp'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const settings = (onDisk: string, booted: number) =>
  settingsSchema.parse({ disk: onDisk, bootedPartition: String(booted), kernelDir: join(dir, 'esp', 'flatcar') });

async function withEsp<T>(options: string[], use: (loopDisk: string) => Promise<T>): Promise<T> {
  return withLoopDevice(disk, {}, async (loop) => {
    const fuse = await startFusefat(loop.partitionPath(1), join(dir, 'esp'), options);
    try {
      return await use(loop.path);
    } finally {
      await fuse.stop();
    }
  });
}

describe('doctor: ESP and kernel', () => {
  it("a writable FUSE-mounted ESP with the running slot's kernel passes", async () => {
    const results = await withEsp(['-o', 'rw+'], (d) => checkEsp(settings(d, 3)));
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['ESP', 'ok'],
      ['kernel', 'ok'],
    ]);
    expect(results[0]?.detail).toContain('fuse');
    expect(results[1]?.detail).toContain('vmlinuz-a');
  });

  it('booted from B without vmlinuz-b: the kernel check warns', async () => {
    const results = await withEsp(['-o', 'rw+'], (d) => checkEsp(settings(d, 4)));
    expect(results.find((r) => r.name === 'kernel')).toMatchObject({ status: 'warn', detail: expect.stringContaining('vmlinuz-b') });
  });

  it('a read-only ESP fails with the fix', async () => {
    const results = await withEsp(['-o', 'ro'], (d) => checkEsp(settings(d, 3)));
    expect(results[0]).toMatchObject({ name: 'ESP', status: 'fail', detail: expect.stringContaining('not writable') });
  });

  it('an ESP that is not mounted is named with the partition the step would mount', async () => {
    const results = await checkEsp(settings(disk, 3));
    expect(results).toEqual([expect.objectContaining({ name: 'ESP', status: 'warn', detail: expect.stringContaining('partition 1') })]);
  });
});
