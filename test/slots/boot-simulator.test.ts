// The GRUB gptprio.next choice (table-driven) and bootSimulate on image files (both copies written).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { encodeBootAttributes } from '../../src/slots/attributes.ts';
import { bootSimulate, chooseBootEntry } from '../../src/slots/boot-simulator.ts';
import { openFsDisk } from '../../src/slots/fs-disk.ts';
import { decodeGptEntries, type GptEntry } from '../../src/slots/gpt-entry.ts';
import { checkGptHeader, computeEntriesCrc32 } from '../../src/slots/gpt-header.ts';
import { prepareForTry, editSlots } from '../../src/slots/slot-operations.ts';
import { USR_PARTITION_TYPE_GUID } from '../../src/slots/slot-model.ts';
import { createOwnImage, fingerprint, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;

const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
const entry = (
  partition: number,
  priority: number,
  tries: number,
  successful: boolean,
  typeGuid = USR_PARTITION_TYPE_GUID,
  label = `P${partition}`,
): GptEntry => ({
  partition,
  typeGuid,
  uuid: USR_PARTITION_TYPE_GUID,
  firstLba: 100 * partition,
  lastLba: 100 * partition + 99,
  attributes: encodeBootAttributes(0n, { priority, tries, successful }),
  label,
});

describe('gptprio.next choice (pure)', () => {
  it.each<[string, GptEntry[], number | undefined]>([
    ['fresh: A good', [entry(3, 1, 0, true), entry(4, 0, 0, false)], 3],
    ['after the flip: B has a try', [entry(3, 1, 0, true), entry(4, 2, 1, false)], 4],
    ['B tried and failed: back to A', [entry(3, 1, 0, true), entry(4, 2, 0, false)], 3],
    ['ties: the lowest partition', [entry(4, 2, 0, true), entry(3, 2, 1, false)], 3],
    ['priority 0 is never booted, even when successful', [entry(3, 0, 0, true), entry(4, 0, 5, false)], undefined],
    ['nothing has tries or success', [entry(3, 1, 0, false), entry(4, 2, 0, false)], undefined],
    ['only the /usr type counts, not the label', [entry(3, 5, 1, true, LINUX, 'USR-A'), entry(4, 1, 0, true)], 4],
    ['many tries, higher priority wins', [entry(3, 15, 15, false), entry(4, 14, 0, true)], 3],
    ['no partitions', [], undefined],
  ])('%s', (_name, entries, partition) => {
    expect(chooseBootEntry(entries)?.partition).toBe(partition);
  });
});

async function copies(path: string): Promise<{ primary: GptEntry[]; backup: GptEntry[] }> {
  // Decode both on-disk copies independently, each validated with its own CRCs.
  const disk = await openFsDisk(path);
  try {
    const ss = disk.sectorSizeBytes;
    const read = async (lba: number) => {
      const r = checkGptHeader(await disk.read(lba * ss, ss), lba, { sectorSizeBytes: ss, totalSectors: disk.sizeBytes / ss });
      if (!('header' in r)) throw new Error(r.reason);
      const entries = await disk.read(r.header.entriesLba * ss, 32 * 512);
      expect(computeEntriesCrc32(entries, r.header)).toBe(r.header.entriesCrc32);
      return decodeGptEntries(entries, r.header);
    };
    return { primary: await read(1), backup: await read(disk.sizeBytes / ss - 1) };
  } finally {
    await disk.close();
  }
}

describe('bootSimulate on a disk', () => {
  it('counts the try down in both GPT copies', async () => {
    const disk = join(tmp.dir, `b${n++}.img`);
    await createOwnImage(disk);
    await prepareForTry(disk, 4);
    await editSlots(disk, {}, (e) => e.set(4, { tries: 3 }));
    for (const left of [2, 1, 0]) {
      expect(await bootSimulate(disk)).toMatchObject({ partition: 4, label: 'USR-B', tries: left });
      const { primary, backup } = await copies(disk);
      expect(primary).toEqual(backup);
      expect(primary.find((e) => e.partition === 4)?.attributes).toBe(encodeBootAttributes(0n, { priority: 2, tries: left, successful: false }));
    }
    expect((await bootSimulate(disk)).partition).toBe(3);
    expect(sgdiskVerify(disk)).toMatchObject({ ok: true });
  });

  it('writes nothing when the chosen slot has no tries to count', async () => {
    const disk = join(tmp.dir, `b${n++}.img`);
    await createOwnImage(disk);
    const before = fingerprint(disk);
    expect(await bootSimulate(disk)).toMatchObject({ partition: 3, label: 'USR-A', tries: 0 });
    expect(fingerprint(disk)).toBe(before);
  });

  it('fails with ERR_NO_BOOTABLE_SLOT, listing the slots, and leaves the disk alone', async () => {
    const disk = join(tmp.dir, `b${n++}.img`);
    await createOwnImage(disk);
    await editSlots(disk, {}, (e) => e.set(3, { priority: 0 }));
    const before = fingerprint(disk);
    await expect(bootSimulate(disk)).rejects.toMatchObject({
      code: 'ERR_NO_BOOTABLE_SLOT',
      message: `No bootable slot on "${disk}": 3 "USR-A" priority=0 tries=0 successful=1, 4 "USR-B" priority=0 tries=0 successful=0`,
    });
    expect(fingerprint(disk)).toBe(before);
  });

  it('works on 4096-byte sector images', async () => {
    const disk = join(tmp.dir, `b${n++}.img`);
    await createOwnImage(disk, { sectorSizeBytes: 4096 });
    await prepareForTry(disk, 4);
    expect(await bootSimulate(disk)).toMatchObject({ partition: 4, tries: 0 });
    expect((await bootSimulate(disk)).partition).toBe(3);
  });
});
