// Reads past the page cache (O_DIRECT): the bytes of a file region at unaligned offsets and lengths,
// from an aligned buffer the reader finds itself; none for a window that starts off a device block.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statfsSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDeviceReader } from '../../src/io/device-reader.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { seededBytes } from '../payload/helpers.ts';

const TMPFS_MAGIC = 0x01021994;
let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'device-reader-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('openDeviceReader', () => {
  it('reads the bytes of a region at unaligned offsets and lengths (the test directory must allow O_DIRECT)', async () => {
    expect(statfsSync(dir).type, `${dir} is on tmpfs, which has no O_DIRECT: set TMPDIR to a disk-backed directory`).not.toBe(TMPFS_MAGIC);
    const bytes = seededBytes(300_000, 7);
    const path = join(dir, 'disk.img');
    await writeFile(path, bytes);
    const target = new FileRegionTarget(path, 8192, 250_000);
    const reader = await target.openDeviceReader(70_000);
    expect(reader).toBeDefined();
    try {
      for (const [offset, length] of [
        [0, 65_536],
        [1, 70_000],
        [4095, 4097],
        [123_457, 1000],
        [250_000 - 10, 10],
      ] as const) {
        const got = Buffer.from(await reader!.read(offset, length));
        expect(got.equals(bytes.subarray(8192 + offset, 8192 + offset + length)), `${offset}+${length}`).toBe(true);
      }
    } finally {
      await reader?.close();
    }
  });

  it('reads data after a hole (ext4 answers a hole whatever the alignment: the alignment is learnt where data is)', async () => {
    const path = join(dir, 'sparse.img');
    const data = seededBytes(100_000, 11);
    const fh = await open(path, 'w');
    await fh.truncate(1024 * 1024);
    await fh.write(data, 0, data.length, 512 * 1024);
    await fh.close();
    const reader = await openDeviceReader(path, 0, 128 * 1024, 'sparse.img');
    try {
      expect((await reader!.read(0, 8192)).every((b) => b === 0)).toBe(true);
      expect(Buffer.from(await reader!.read(512 * 1024 + 3, 90_000)).equals(data.subarray(3, 90_003))).toBe(true);
    } finally {
      await reader?.close();
    }
  });

  it('a read past the end of the file is short', async () => {
    const path = join(dir, 'short.img');
    await writeFile(path, seededBytes(10_000, 8));
    const reader = await openDeviceReader(path, 0, 65_536, 'short.img');
    expect(reader).toBeDefined();
    expect((await reader!.read(8000, 4096)).byteLength).toBe(2000);
    await reader!.close();
  });

  it('no reader at an offset no device block starts at', async () => {
    const onDisk = join(dir, 'odd.img');
    await writeFile(onDisk, seededBytes(10_000, 10));
    expect(await openDeviceReader(onDisk, 100, 4096, 'odd')).toBeUndefined();
  });
});
