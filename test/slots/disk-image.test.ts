// createDiskImage: layouts that sgdisk -v and cgpt accept, at 512 and 4096 bytes per sector.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDiskImage, defaultLayout, PARTITION_TYPE } from '../../src/slots/disk-image.ts';
import { hasProtectiveMbr } from '../../src/slots/protective-mbr.ts';
import { encodeBootAttributes } from '../../src/slots/attributes.ts';
import { listUsrSlots, prepareForTry, readSlots } from '../../src/slots/slot-operations.ts';
import { bootSimulate } from '../../src/slots/boot-simulator.ts';
import { cgptAttributes, sgdisk, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;
const next = (): string => join(tmp.dir, `img-${n++}.img`);
const MIB = 1024 * 1024;

describe('createDiskImage', () => {
  it("makes Flatcar's layout that sgdisk accepts and cgpt reads: A good, B all 0", async () => {
    const path = next();
    const image = await createDiskImage(path);
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
    const table = sgdisk(path, ['-p']);
    for (const [num, code, name] of [
      [1, 'EF00', 'EFI-SYSTEM'],
      [2, 'EF02', 'BIOS-BOOT'],
      [3, '8500', 'USR-A'],
      [4, '8500', 'USR-B'],
      [9, '8501', 'ROOT'],
    ]) {
      expect(table).toMatch(new RegExp(`^\\s+${num}\\s+\\d+\\s+\\d+\\s+[\\d.]+ [KM]iB\\s+${code}\\s+${name}$`, 'm'));
    }
    expect(cgptAttributes(path, 3)).toEqual({ priority: 1, tries: 0, successful: 1 });
    expect(cgptAttributes(path, 4)).toEqual({ priority: 0, tries: 0, successful: 0 });
    expect(image.partitions.find((p) => p.partition === 4)).toMatchObject({ label: 'USR-B', typeGuid: PARTITION_TYPE.usr, byteLength: 16 * MIB, priority: 0 });
    expect(sgdisk(path, ['-i', '3'])).toContain(`Partition unique GUID: ${image.partitions.find((p) => p.partition === 3)?.uuid.toUpperCase()}`);
    expect(hasProtectiveMbr(readFileSync(path).subarray(0, 512))).toBe(true);
    expect(statSync(path).size).toBe(image.sizeBytes);
    expect(statSync(path).blocks * 512).toBeLessThan(image.sizeBytes / 4); // sparse
    for (const p of image.partitions) expect(p.byteOffset % MIB).toBe(0);
  });

  it('takes sizes, a total size and a disk GUID', async () => {
    const path = next();
    const image = await createDiskImage(path, {
      usrSizeBytes: 3 * MIB,
      rootSizeBytes: MIB,
      sizeBytes: 64 * MIB,
      diskGuid: '11111111-2222-4333-8444-555555555555',
    });
    expect(image.sizeBytes).toBe(64 * MIB);
    expect(image.partitions.filter((p) => p.typeGuid === PARTITION_TYPE.usr).map((p) => p.byteLength)).toEqual([3 * MIB, 3 * MIB]);
    expect(sgdisk(path, ['-p'])).toContain('Disk identifier (GUID): 11111111-2222-4333-8444-555555555555');
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
  });

  it('takes its own partition list (slots 5 and 6) and any entry count', async () => {
    const path = next();
    const usr = PARTITION_TYPE.usr;
    await createDiskImage(path, {
      entryCount: 256,
      partitions: [
        {
          partition: 5,
          label: 'USR-A',
          typeGuid: usr,
          sizeBytes: MIB,
          attributes: encodeBootAttributes(1n << 60n, { priority: 1, tries: 0, successful: true }),
        },
        { partition: 6, label: 'USR-B', typeGuid: usr, sizeBytes: MIB },
        { partition: 200, label: 'DATA', typeGuid: PARTITION_TYPE.root, sizeBytes: MIB },
      ],
    });
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
    expect(sgdisk(path, ['-A', '5:get:60']).trim()).toBe('5:60:1');
    await prepareForTry(path, 6);
    expect((await readSlots(path, { slotAPartition: 5, slotBPartition: 6 })).slotB).toMatchObject({ priority: 2, tries: 1 });
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
  });

  it('makes 256-byte entries that our codec reads and changes', async () => {
    const path = next();
    await createDiskImage(path, { entrySizeBytes: 256 });
    await prepareForTry(path, 4);
    expect(await bootSimulate(path)).toMatchObject({ partition: 4 });
    expect((await listUsrSlots(path)).problems).toEqual([]);
  });

  it('makes 4096-byte sector images that sgdisk and cgpt accept on a loop device (root)', async () => {
    const path = next();
    const image = await createDiskImage(path, { sectorSizeBytes: 4096 });
    expect(image.partitions.find((p) => p.partition === 3)?.firstLba).toBe(image.partitions.find((p) => p.partition === 3)!.byteOffset / 4096);
    await withLoopDevice(path, { sectorSizeBytes: 4096 }, async (loop) => {
      const v = sgdiskVerify(loop.path);
      expect(v.ok, v.output).toBe(true);
      expect(sgdisk(loop.path, ['-p'])).toContain('Sector size (logical/physical): 4096/4096 bytes');
      expect(cgptAttributes(loop.path, 3)).toEqual({ priority: 1, tries: 0, successful: 1 });
    });
  });

  it('never replaces a file unless told, and never anything but a regular file', async () => {
    const path = next();
    writeFileSync(path, 'precious');
    await expect(createDiskImage(path)).rejects.toMatchObject({ code: 'ERR_GPT_IO', message: `Cannot create disk image "${path}": it exists` });
    expect(readFileSync(path, 'utf8')).toBe('precious');
    await createDiskImage(path, { overwrite: true });
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
    const dir = join(tmp.dir, 'a-dir');
    mkdirSync(dir);
    await expect(createDiskImage(dir, { overwrite: true })).rejects.toThrow(`Cannot create disk image "${dir}": it exists and is not a regular file`);
  });

  it('refuses a size that cannot hold the partitions', async () => {
    await expect(createDiskImage(next(), { sizeBytes: 8 * MIB })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringMatching(/^Disk image size 8388608 is too small for its partitions \(at least \d+ bytes/),
    });
  });

  it('describes the default layout', () => {
    expect(defaultLayout({ usrSizeBytes: 5 }).map((p) => [p.partition, p.label, p.sizeBytes])).toEqual([
      [1, 'EFI-SYSTEM', 2 * MIB],
      [2, 'BIOS-BOOT', MIB],
      [3, 'USR-A', 5],
      [4, 'USR-B', 5],
      [9, 'ROOT', 4 * MIB],
    ]);
  });
});
