// Reading the GPT: sgdisk-made tables, one damaged or stale copy, and disks with no usable GPT.
import { afterAll, describe, expect, it } from 'vitest';
import { openSync, closeSync, writeSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openFsDisk } from '../../src/slots/fs-disk.ts';
import { readGptTable } from '../../src/slots/gpt-reader.ts';
import { decodeGptEntries } from '../../src/slots/gpt-entry.ts';
import { createOwnImage, createSgdiskImage, sgdisk, tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;

function poke(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

async function read(path: string) {
  const disk = await openFsDisk(path);
  try {
    return await readGptTable(disk);
  } finally {
    await disk.close();
  }
}

async function fresh(ss: 512 | 4096 = 512) {
  const path = join(tmp.dir, `r${n++}.img`);
  const image = await createOwnImage(path, { sectorSizeBytes: ss });
  return { path, image, lastLba: image.sizeBytes / ss - 1 };
}

describe('reading the GPT', () => {
  it('reads a table made by sgdisk exactly as sgdisk shows it', async () => {
    const path = join(tmp.dir, 'sg.img');
    createSgdiskImage(path);
    const table = await read(path);
    expect(table.problems).toEqual([]);
    expect(table.source).toBe('primary');
    const entries = decodeGptEntries(table.entries, table.primary);
    expect(entries.map((e) => [e.partition, e.label])).toEqual([
      [1, 'EFI-SYSTEM'],
      [2, 'BIOS-BOOT'],
      [3, 'USR-A'],
      [4, 'USR-B'],
      [6, 'OEM'],
      [9, 'ROOT'],
    ]);
    for (const e of entries) {
      const info = sgdisk(path, ['-i', String(e.partition)]);
      expect(info).toContain(`Partition unique GUID: ${e.uuid.toUpperCase()}`);
      expect(info).toContain(`Partition GUID code: ${e.typeGuid.toUpperCase()}`);
      expect(info).toContain(`First sector: ${e.firstLba} `);
      expect(info).toContain(`Last sector: ${e.lastLba} `);
      expect(info).toContain(`Partition name: '${e.label}'`);
    }
    expect(sgdisk(path, ['-p'])).toContain(`Disk identifier (GUID): ${table.primary.diskGuid.toUpperCase()}`);
  });

  it.each([512, 4096] as const)('uses the backup when the primary header is damaged (%i-byte sectors)', async (ss) => {
    const { path } = await fresh(ss);
    poke(path, ss + 40, Buffer.from([0xff])); // inside the primary header: CRC mismatch
    const table = await read(path);
    expect(table.source).toBe('backup');
    expect(table.problems).toEqual([expect.stringMatching(/^the primary GPT at LBA 1 is damaged: header CRC32/)]);
    expect(table.primary.myLba).toBe(1);
    expect(decodeGptEntries(table.entries, table.primary).map((e) => e.label)).toContain('USR-B');
  });

  it('uses the backup when the primary entries are damaged', async () => {
    const { path } = await fresh();
    poke(path, 2 * 512 + 3 * 128 + 60, Buffer.from('XX'));
    const table = await read(path);
    expect(table.source).toBe('backup');
    expect(table.problems[0]).toMatch(/primary GPT at LBA 1 is damaged: partition entries CRC32 0x[0-9a-f]{8} does not match/);
  });

  it('keeps the primary and plans a new backup when the backup is damaged', async () => {
    const { path, lastLba } = await fresh();
    poke(path, lastLba * 512, Buffer.alloc(512));
    const table = await read(path);
    expect(table.source).toBe('primary');
    expect(table.problems).toEqual([`the backup GPT at LBA ${lastLba} is damaged: no "EFI PART" signature at LBA ${lastLba}`]);
    expect([table.backup.myLba, table.backup.entriesLba]).toEqual([lastLba, lastLba - 32]);
  });

  it('trusts the primary when both copies are valid but differ (a flip cut short)', async () => {
    const { path, lastLba } = await fresh();
    const before = await read(path);
    // sgdisk renames partition 4 in both copies; putting the old primary back leaves two valid,
    // different copies: the backup says "CHANGED", the primary "USR-B".
    sgdisk(path, ['-c', '4:CHANGED']);
    poke(path, 512, Buffer.concat([before.primary.sector, before.entries]));
    const table = await read(path);
    expect(table.source).toBe('primary');
    expect(table.problems).toEqual([`the backup GPT at LBA ${lastLba} differs from the primary`]);
    expect(decodeGptEntries(table.entries, table.primary).find((e) => e.partition === 4)?.label).toBe('USR-B');
  });

  it('says "not a GPT disk" for a disk with no GPT at all', async () => {
    const path = join(tmp.dir, 'zeros.img');
    writeFileSync(path, '');
    truncateSync(path, 1024 * 1024);
    await expect(read(path)).rejects.toMatchObject({
      code: 'ERR_GPT_INVALID',
      message: `"${path}" is not a GPT disk: no "EFI PART" header at LBA 1 or at LBA 2047 (sector size 512)`,
    });
  });

  it('says both copies are damaged, and why, when they are', async () => {
    const { path, lastLba } = await fresh();
    poke(path, 512 + 40, Buffer.from([0xff]));
    poke(path, (lastLba - 32) * 512 + 5, Buffer.from([0xff]));
    await expect(read(path)).rejects.toMatchObject({
      code: 'ERR_GPT_INVALID',
      message: expect.stringMatching(/^No valid GPT on ".*": primary: header CRC32 .*; backup: partition entries CRC32 .* does not match/),
    });
  });

  it('rejects a truncated image (the backup and the end of the disk are gone)', async () => {
    const { path, image } = await fresh();
    truncateSync(path, image.sizeBytes - 1024 * 1024);
    await expect(read(path)).rejects.toMatchObject({
      code: 'ERR_GPT_INVALID',
      message: expect.stringMatching(/primary: alternate header LBA \d+ is not on the disk/),
    });
  });

  it('rejects a file too small to hold a GPT', async () => {
    const path = join(tmp.dir, 'tiny.img');
    writeFileSync(path, Buffer.alloc(1000));
    await expect(read(path)).rejects.toThrow(`"${path}" is not a GPT disk: it is only 1000 bytes`);
  });
});
