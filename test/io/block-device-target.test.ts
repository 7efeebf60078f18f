// BlockDeviceTarget on real loop devices (root): size from sysfs and by reading, round trips on a
// whole device and a partition node, bounds, O_EXCL refusing a mounted device, and an I/O error
// (a loop device whose backing file sits on a full tmpfs) reported with the target's name.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BlockDeviceTarget, blockDeviceSizeBytes } from '../../src/io/block-device-target.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { addPartitions, attachLoop, deletePartitions, detachLoop, runTool, unmount } from '../helpers/loop-device.ts';
import { mountTmpfs } from '../helpers/tmpfs.ts';

let dir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-io-bdt-'));
});
afterEach(async () => {
  while (cleanups.length > 0)
    await cleanups
      .pop()?.()
      .catch(() => {});
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function image(name: string, sizeBytes: number, at = dir): Promise<string> {
  const path = join(at, name);
  await writeFile(path, '');
  await truncate(path, sizeBytes);
  return path;
}

async function loopOf(path: string): Promise<string> {
  requireRoot('loop devices');
  requireTool('losetup');
  const dev = await attachLoop(path);
  cleanups.push(() => detachLoop(dev));
  return dev;
}

describe('BlockDeviceTarget', () => {
  it('measures a whole device and round-trips data on it', async () => {
    const dev = await loopOf(await image('whole.img', 8 * 1024 * 1024));
    const t = await BlockDeviceTarget.probe(dev);
    expect(t.sizeBytes).toBe(8 * 1024 * 1024);
    expect(t.description).toBe(dev);
    await t.open();
    try {
      const data = randomBytes(3 * 1024 * 1024);
      await t.writev([data.subarray(0, 1_000_000), data.subarray(1_000_000)], 4096);
      await t.sync();
      expect((await t.read(4096, data.length)).equals(data)).toBe(true);
      const e = (await t.write(Buffer.alloc(4096), 8 * 1024 * 1024 - 1024).catch((x: unknown) => x)) as UpdateEngineError;
      expect(e.code).toBe('ERR_PAYLOAD_TOO_LARGE');
      expect(e.message).toContain(`does not fit "${dev}" (8388608 bytes)`);
    } finally {
      await t.close();
    }
  });

  it('measures by reading when sysfs has no entry, with the same result', async () => {
    const dev = await loopOf(await image('probe.img', 5 * 1024 * 1024 + 512 * 3));
    expect(await blockDeviceSizeBytes(dev, { sysRoot: dir })).toBe(5 * 1024 * 1024 + 512 * 3);
    expect(await blockDeviceSizeBytes(dev)).toBe(5 * 1024 * 1024 + 512 * 3);
  });

  it('writes a partition node without touching the rest of the disk', async () => {
    requireTool('sgdisk');
    requireTool('partx');
    const img = await image('gpt.img', 16 * 1024 * 1024);
    await runTool(['sgdisk', '-n', '1:2048:+4M', '-n', '2:0:+4M', img]);
    const dev = await loopOf(img);
    await addPartitions(dev);
    cleanups.push(() => deletePartitions(dev));
    const t = await BlockDeviceTarget.probe(`${dev}p2`);
    expect(t.sizeBytes).toBe(4 * 1024 * 1024);
    await t.open();
    const data = randomBytes(4 * 1024 * 1024);
    await t.write(data, 0);
    await t.sync();
    await t.close();
    // Partition 2 starts at sector 2048 + 8192 = 10240.
    const disk = await open(dev, 'r');
    try {
      const all = Buffer.alloc(16 * 1024 * 1024);
      await disk.read(all, 0, all.length, 0);
      expect(all.subarray(10240 * 512, 10240 * 512 + data.length).equals(data)).toBe(true);
      expect(all.subarray(2048 * 512, 10240 * 512).every((b) => b === 0)).toBe(true);
    } finally {
      await disk.close();
    }
  });

  it('refuses a regular file and a missing path', async () => {
    const file = await image('plain.img', 4096);
    await expect(BlockDeviceTarget.probe(file)).rejects.toThrow(`Write target "${file}" is not a block device`);
    await expect(BlockDeviceTarget.probe(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ERR_INSTALL_DEVICE' });
  });

  it('refuses to open a mounted device (O_EXCL)', async () => {
    requireTool('mkfs.ext4');
    const dev = await loopOf(await image('ext4.img', 8 * 1024 * 1024));
    await runTool(['mkfs.ext4', '-q', dev]);
    const mnt = join(dir, 'mnt');
    await mkdir(mnt, { recursive: true });
    await runTool(['mount', dev, mnt]);
    cleanups.push(() => unmount(mnt));
    const t = await BlockDeviceTarget.probe(dev);
    await expect(t.open()).rejects.toThrow(`Cannot open write target "${dev}": it is in use (mounted?)`);
  });

  it('reports an I/O error from the device with the target and a write code', async () => {
    const small = join(dir, 'small');
    await mkdir(small, { recursive: true });
    const tmpfs = mountTmpfs(small, 1024 * 1024);
    cleanups.push(async () => tmpfs.unmount());
    // A loop device of 8 MiB over a sparse file on a 1 MiB tmpfs: writing it fails below.
    const dev = await loopOf(await image('backing.img', 8 * 1024 * 1024, small));
    const t = await BlockDeviceTarget.probe(dev);
    await t.open();
    let e: UpdateEngineError | undefined;
    try {
      const chunk = randomBytes(1024 * 1024);
      for (let off = 0; off < 4 * 1024 * 1024; off += chunk.length) await t.write(chunk, off);
      await t.sync();
    } catch (err) {
      e = err as UpdateEngineError;
    } finally {
      await t.close();
    }
    expect(e).toBeInstanceOf(UpdateEngineError);
    expect(['ERR_DOWNLOAD_WRITE', 'ERR_INSTALL_DEVICE_SPACE']).toContain(e?.code);
    expect(e?.message).toMatch(new RegExp(`^Cannot (sync "${dev}"|write to "${dev}" at offset \\d+): E(IO|NOSPC)`));
  });
});
