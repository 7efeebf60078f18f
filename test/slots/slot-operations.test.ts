// Slot operations on image files: the A/B lifecycle, rollback, bad input (disk unchanged), one corrupt copy.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { closeSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { disableSlot, listUsrSlots, markGood, prepareForTry, prioritize, readSlots, repairGpt, restoreBooted } from '../../src/slots/slot-operations.ts';
import { bootSimulate } from '../../src/slots/boot-simulator.ts';
import { createOwnImage, fingerprint, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;
const AB = { slotAPartition: 3, slotBPartition: 4 };

async function fresh(ss: 512 | 4096 = 512): Promise<string> {
  const path = join(tmp.dir, `ops-${n++}.img`);
  await createOwnImage(path, { sectorSizeBytes: ss, usrSizeBytes: 1024 * 1024 });
  return path;
}

async function state(path: string): Promise<string> {
  const t = await readSlots(path, AB);
  const f = (s: typeof t.slotA) => `P${s.priority} T${s.tries} S${s.successful ? 1 : 0}`;
  return `A ${f(t.slotA)} | B ${f(t.slotB)}`;
}

function xorByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  writeSync(fd, Buffer.from([(b[0] ?? 0) ^ 0xff]), 0, 1, offset);
  closeSync(fd);
}

describe('the A/B lifecycle', () => {
  it.each([512, 4096] as const)('fresh -> update B -> boot B -> good B -> update A -> boot A -> good A (%i-byte sectors)', async (ss) => {
    const disk = await fresh(ss);
    expect(await state(disk)).toBe('A P1 T0 S1 | B P0 T0 S0');
    expect((await bootSimulate(disk)).partition).toBe(3);

    await disableSlot(disk, 4); // before writing the image into B
    await prepareForTry(disk, 4);
    expect(await state(disk)).toBe('A P1 T0 S1 | B P2 T1 S0');
    expect(await bootSimulate(disk)).toMatchObject({ partition: 4, label: 'USR-B', tries: 0 });
    expect(await state(disk)).toBe('A P1 T0 S1 | B P2 T0 S0');
    await markGood(disk, 4);
    expect(await state(disk)).toBe('A P1 T0 S1 | B P2 T0 S1');
    expect((await bootSimulate(disk)).partition).toBe(4);

    await disableSlot(disk, 3);
    expect(await state(disk)).toBe('A P0 T0 S0 | B P2 T0 S1');
    await prepareForTry(disk, 3);
    expect(await state(disk)).toBe('A P2 T1 S0 | B P1 T0 S1');
    expect(await bootSimulate(disk)).toMatchObject({ partition: 3, tries: 0 });
    await markGood(disk, 3);
    expect(await state(disk)).toBe('A P2 T0 S1 | B P1 T0 S1');
    expect(sgdiskVerify(disk)).toMatchObject({ ok: true });
  });

  it('rolls back: B never marked good, so the second boot returns to A', async () => {
    const disk = await fresh();
    await prepareForTry(disk, 4);
    expect((await bootSimulate(disk)).partition).toBe(4); // the one try
    expect(await bootSimulate(disk)).toMatchObject({ partition: 3, label: 'USR-A', tries: 0 });
    expect(await state(disk)).toBe('A P1 T0 S1 | B P2 T0 S0');
    expect((await bootSimulate(disk)).partition).toBe(3);
  });

  it('restoreBooted undoes a flip in one write: the passive slot off, the booted one on top', async () => {
    const disk = await fresh();
    await prepareForTry(disk, 4);
    await restoreBooted(disk, 3, 4);
    expect(await state(disk)).toBe('A P1 T0 S1 | B P0 T0 S0');
    expect((await bootSimulate(disk)).partition).toBe(3);
    await expect(restoreBooted(disk, 3, 3)).rejects.toMatchObject({ code: 'ERR_SLOT_DETECT' });
  });

  it('writes nothing when nothing changes', async () => {
    const disk = await fresh();
    const before = fingerprint(disk);
    await markGood(disk, 3);
    await prioritize(disk, 3);
    await disableSlot(disk, 4);
    expect(fingerprint(disk)).toBe(before);
  });

  it('reads the configured slots and every /usr slot', async () => {
    const disk = await fresh(4096);
    const t = await readSlots(disk, AB);
    expect(t.sectorSizeBytes).toBe(4096);
    expect(t.slotA).toMatchObject({ partition: 3, label: 'USR-A', priority: 1, successful: true, byteOffset: t.slotA.firstLba * 4096 });
    expect(t.slotB.byteLength).toBe(1024 * 1024);
    expect(t.usrSlots.map((s) => s.partition)).toEqual([3, 4]);
    expect((await listUsrSlots(disk)).usrSlots).toEqual(t.usrSlots);
  });
});

describe('bad input leaves the disk byte-identical', () => {
  const cases: Array<[string, (disk: string) => Promise<unknown>, string, RegExp]> = [
    ['partition out of range', (d) => prioritize(d, 200), 'ERR_SLOT_NOT_FOUND', /Partition 200 is out of range on ".*" \(its GPT has partitions 1..128\)/],
    ['an empty partition', (d) => markGood(d, 5), 'ERR_SLOT_NOT_FOUND', /Partition 5 does not exist/],
    ['a slot that is not USR-type', (d) => prepareForTry(d, 9), 'ERR_SLOT_NOT_USR', /Partition 9 \("ROOT"\) on ".*" is not a USR slot/],
    ['the EFI partition', (d) => disableSlot(d, 1), 'ERR_SLOT_NOT_USR', /Partition 1 \("EFI-SYSTEM"\)/],
    ['a configured slot that is not USR-type', (d) => readSlots(d, { slotAPartition: 3, slotBPartition: 9 }), 'ERR_SLOT_NOT_USR', /Partition 9/],
    ['a bad restore', (d) => restoreBooted(d, 3, 9), 'ERR_SLOT_NOT_USR', /Partition 9/],
  ];
  it.each(cases)('%s', async (_name, op, code, message) => {
    const disk = await fresh();
    await prepareForTry(disk, 4);
    const before = fingerprint(disk);
    await expect(op(disk)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(fingerprint(disk)).toBe(before);
  });

  it('a disk that is not GPT', async () => {
    const disk = join(tmp.dir, 'plain.img');
    writeFileSync(disk, Buffer.alloc(2 * 1024 * 1024, 0x5a));
    const before = fingerprint(disk);
    await expect(markGood(disk, 3)).rejects.toMatchObject({ code: 'ERR_GPT_INVALID', message: expect.stringMatching(/is not a GPT disk/) });
    await expect(bootSimulate(disk)).rejects.toMatchObject({ code: 'ERR_GPT_INVALID' });
    expect(fingerprint(disk)).toBe(before);
  });

  it('both copies corrupt', async () => {
    const disk = await fresh();
    const size = (await listUsrSlots(disk)).diskSizeBytes;
    xorByte(disk, 512 + 30);
    xorByte(disk, size - 512 + 30);
    const before = fingerprint(disk);
    await expect(prepareForTry(disk, 4)).rejects.toMatchObject({
      code: 'ERR_GPT_INVALID',
      message: expect.stringMatching(/^No valid GPT on ".*": primary: header CRC32 .*; backup: header CRC32/),
    });
    await expect(repairGpt(disk)).rejects.toMatchObject({ code: 'ERR_GPT_INVALID' });
    expect(fingerprint(disk)).toBe(before);
  });

  it('a truncated image', async () => {
    const disk = await fresh();
    truncateSync(disk, 3 * 1024 * 1024);
    const before = fingerprint(disk);
    await expect(prepareForTry(disk, 4)).rejects.toMatchObject({
      code: 'ERR_GPT_INVALID',
      message: expect.stringMatching(/alternate header LBA \d+ is not on the disk/),
    });
    expect(fingerprint(disk)).toBe(before);
  });

  it('a missing disk', async () => {
    await expect(prioritize(join(tmp.dir, 'nope.img'), 3)).rejects.toMatchObject({
      code: 'ERR_GPT_IO',
      message: expect.stringMatching(/^Cannot open disk ".*nope.img": no such file or device$/),
    });
  });
});

describe('one corrupt copy', () => {
  it.each([
    ['primary header', (_size: number) => 512 + 30],
    ['primary entries', () => 2 * 512 + 2 * 128 + 70],
    ['backup header', (size: number) => size - 512 + 30],
    ['backup entries', (size: number) => size - 33 * 512 + 3 * 128 + 50],
  ])('%s: read from the other copy, repaired by the next change', async (_name, offset) => {
    const disk = await fresh();
    const size = (await listUsrSlots(disk)).diskSizeBytes;
    xorByte(disk, offset(size));
    expect(sgdiskVerify(disk).ok).toBe(false);
    const seen = await listUsrSlots(disk);
    expect(seen.problems).toHaveLength(1);
    expect(seen.usrSlots.map((s) => s.label)).toEqual(['USR-A', 'USR-B']);
    await prepareForTry(disk, 4);
    expect(sgdiskVerify(disk)).toMatchObject({ ok: true });
    expect((await listUsrSlots(disk)).problems).toEqual([]);
    expect(await state(disk)).toBe('A P1 T0 S1 | B P2 T1 S0');
  });
});
