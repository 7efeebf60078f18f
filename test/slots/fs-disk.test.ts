// FsDisk: sector-size probing for image files, sysfs geometry for loop devices, clear errors.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openFsDisk } from '../../src/slots/fs-disk.ts';
import { totalSectors } from '../../src/slots/disk.ts';
import { createOwnImage, tempDir } from '../helpers/disk-image.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('FsDisk on image files', () => {
  it('finds the sector size of an image from where its GPT is (512 and 4096)', async () => {
    for (const ss of [512, 4096] as const) {
      const path = join(tmp.dir, `probe-${ss}.img`);
      const image = await createOwnImage(path, { sectorSizeBytes: ss });
      const disk = await openFsDisk(path);
      try {
        expect(disk.sectorSizeBytes).toBe(ss);
        expect(disk.kind).toBe('file');
        expect(disk.sizeBytes).toBe(image.sizeBytes);
        expect(totalSectors(disk)).toBe(image.sizeBytes / ss);
      } finally {
        await disk.close();
      }
    }
  });

  it('finds it from the backup header when the primary is gone', async () => {
    const path = join(tmp.dir, 'probe-backup.img');
    await createOwnImage(path, { sectorSizeBytes: 4096 });
    const bytes = readFileSync(path);
    bytes.fill(0, 0, 8 * 4096);
    writeFileSync(path, bytes);
    const disk = await openFsDisk(path);
    expect(disk.sectorSizeBytes).toBe(4096);
    await disk.close();
  });

  it('uses a forced sector size and refuses unsupported ones', async () => {
    const path = join(tmp.dir, 'forced.img');
    await createOwnImage(path);
    const disk = await openFsDisk(path, { sectorSizeBytes: 4096 });
    expect(disk.sectorSizeBytes).toBe(4096);
    await disk.close();
    await expect(openFsDisk(path, { sectorSizeBytes: 1000 })).rejects.toThrow('Sector size 1000 is not supported (512 or 4096)');
  });

  it('reads short only at the end, and writes and syncs positionally', async () => {
    const path = join(tmp.dir, 'rw.bin');
    writeFileSync(path, Buffer.alloc(4096, 1));
    const disk = await openFsDisk(path, { writable: true, sectorSizeBytes: 512 });
    try {
      await disk.write(Buffer.from('hello'), 4000);
      await disk.sync();
      expect((await disk.read(4000, 5)).toString()).toBe('hello');
      expect((await disk.read(4090, 100)).length).toBe(6);
      expect((await disk.read(5000, 10)).length).toBe(0);
    } finally {
      await disk.close();
    }
    expect(readFileSync(path).subarray(4000, 4005).toString()).toBe('hello');
  });

  it('says clearly what is wrong with a path that is not a disk', async () => {
    await expect(openFsDisk(join(tmp.dir, 'missing.img'))).rejects.toMatchObject({
      code: 'ERR_GPT_IO',
      message: `Cannot open disk "${join(tmp.dir, 'missing.img')}": no such file or device`,
    });
    const dir = join(tmp.dir, 'a-dir');
    mkdirSync(dir);
    await expect(openFsDisk(dir)).rejects.toMatchObject({
      code: 'ERR_GPT_IO',
      message: `Cannot use "${dir}" as a disk: it is neither an image file nor a block device`,
    });
  });

  it('refuses writes on a disk opened read-only', async () => {
    const path = join(tmp.dir, 'ro.bin');
    writeFileSync(path, Buffer.alloc(1024));
    const disk = await openFsDisk(path);
    await expect(disk.write(Buffer.from('x'), 0)).rejects.toMatchObject({
      code: 'ERR_GPT_IO',
      message: expect.stringMatching(/^Cannot write disk ".*ro\.bin" at byte 0/),
    });
    await disk.close();
  });
});

describe('FsDisk on loop devices (root)', () => {
  it.each([512, 4096] as const)('takes size and sector size %i from sysfs', async (ss) => {
    const path = join(tmp.dir, `loop-${ss}.img`);
    const image = await createOwnImage(path, { sectorSizeBytes: ss });
    await withLoopDevice(path, { sectorSizeBytes: ss }, async (loop) => {
      const disk = await openFsDisk(loop.path);
      try {
        expect(disk.kind).toBe('block-device');
        expect(disk.sectorSizeBytes).toBe(ss);
        expect(disk.sizeBytes).toBe(image.sizeBytes);
        expect((await disk.read(ss, 8)).toString('latin1')).toBe('EFI PART');
      } finally {
        await disk.close();
      }
      // A partition node: its own size, the parent's sector size.
      const part = await openFsDisk(loop.partitionPath(4));
      const slot = image.partitions.find((p) => p.partition === 4);
      expect(part.sizeBytes).toBe(slot?.byteLength);
      expect(part.sectorSizeBytes).toBe(ss);
      await part.close();
    });
  });
});
