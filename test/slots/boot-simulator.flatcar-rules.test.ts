// The boot simulator against the GRUB gptprio rules as written in Flatcar's GRUB (flatcar-hub/grub
// at e17f8037, grub-core/commands/gptprio.c, grub_find_next, and include/grub/gpt_partition.h),
// rule by rule, each on a real image file; cgpt (ChromeOS's reader of the same bits) checks the writes.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bootSimulate,
  chooseBootEntry,
  repairGpt,
  createDiskImage,
  encodeBootAttributes,
  PARTITION_TYPE,
  readGptTable,
  type PartitionSpec,
} from '../../src/slots/index.ts';
import { decodeGptEntries } from '../../src/slots/gpt-entry.ts';
import { openFsDisk } from '../../src/slots/fs-disk.ts';
import { cgptAttributes, tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir('ue-gptprio-rules-');
afterAll(tmp.cleanup);
let n = 0;
const MiB = 1024 * 1024;
const bits = (priority: number, tries: number, successful: boolean) => encodeBootAttributes(0n, { priority, tries, successful });
const usr = (partition: number, priority: number, tries: number, successful: boolean, label = `USR-${partition}`): PartitionSpec => ({
  partition,
  label,
  typeGuid: PARTITION_TYPE.usr,
  sizeBytes: MiB,
  attributes: bits(priority, tries, successful),
});

async function disk(parts: PartitionSpec[]): Promise<string> {
  const path = join(tmp.dir, `r${n++}.img`);
  await createDiskImage(path, { partitions: parts });
  return path;
}

async function choose(path: string) {
  const d = await openFsDisk(path, {});
  try {
    const t = await readGptTable(d);
    return chooseBootEntry(decodeGptEntries(t.entries, t.primary))?.partition;
  } finally {
    await d.close();
  }
}

describe('boot simulator = Flatcar GRUB gptprio.next, rule by rule', () => {
  it('gpt_partition.h: priority = attribute bits 48-51, tries left = 52-55, successful = bit 56', async () => {
    const path = await disk([usr(3, 5, 9, true)]);
    // cgpt reads the same fields from the same bits.
    expect(cgptAttributes(path, 3)).toMatchObject({ priority: 5, tries: 9, successful: 1 });
    expect(bits(5, 9, true)).toBe((5n << 48n) | (9n << 52n) | (1n << 56n));
  });

  it('gptprio.c:102 (and :214, GRUB_GPT_PARTITION_TYPE_USR_X86_64): only partitions of the /usr type count, not labels', async () => {
    const path = await disk([
      { partition: 3, label: 'USR-A', typeGuid: PARTITION_TYPE.root, sizeBytes: MiB, attributes: bits(15, 1, true) },
      usr(4, 1, 0, true),
    ]);
    expect(await choose(path)).toBe(4);
  });

  it('gptprio.c:104,113: priority must exceed 0 (old_priority starts at 0), even for a successful partition', async () => {
    const path = await disk([usr(3, 0, 0, true), usr(4, 0, 5, false)]);
    expect(await choose(path)).toBeUndefined();
    await expect(bootSimulate(path)).rejects.toMatchObject({ code: 'ERR_NO_BOOTABLE_SLOT' });
  });

  it('gptprio.c:113: a partition needs tries left or successful', async () => {
    const path = await disk([usr(3, 1, 0, true), usr(4, 2, 0, false)]);
    expect(await choose(path)).toBe(3);
  });

  it('gptprio.c:110-116: the highest priority wins; on a tie the lower entry index stays (strict ">")', async () => {
    expect(await choose(await disk([usr(3, 1, 0, true), usr(4, 2, 1, false)]))).toBe(4);
    expect(await choose(await disk([usr(3, 2, 0, true), usr(4, 2, 1, false)]))).toBe(3);
    expect(await choose(await disk([usr(4, 2, 1, false), usr(3, 2, 0, true)]))).toBe(3);
  });

  it('gptprio.c:98: every entry of the table is looked at, not only 3 and 4', async () => {
    const path = await disk([usr(3, 1, 0, true), usr(4, 2, 0, true), usr(100, 3, 0, true, 'USR-C')]);
    expect(await choose(path)).toBe(100);
  });

  it('gptprio.c:121-125: no partition qualifies -> "no such partition" (ERR_NO_BOOTABLE_SLOT), nothing written', async () => {
    const path = await disk([usr(3, 1, 0, false), usr(4, 0, 0, false)]);
    await expect(bootSimulate(path)).rejects.toMatchObject({ code: 'ERR_NO_BOOTABLE_SLOT' });
    expect(cgptAttributes(path, 3)).toMatchObject({ priority: 1, tries: 0, successful: 0 });
  });

  it('gptprio.c:127-137: tries left are counted down by one and both copies written; priority and successful stay', async () => {
    const path = await disk([usr(3, 1, 0, true), usr(4, 2, 3, false)]);
    expect(await bootSimulate(path)).toMatchObject({ partition: 4, tries: 2 });
    expect(cgptAttributes(path, 4)).toMatchObject({ priority: 2, tries: 2, successful: 0 });
    expect(await bootSimulate(path)).toMatchObject({ partition: 4, tries: 1 });
    expect(await bootSimulate(path)).toMatchObject({ partition: 4, tries: 0 });
    // Spent: back to the successful slot, which has no tries to count (nothing written for it).
    expect(await bootSimulate(path)).toMatchObject({ partition: 3, tries: 0 });
    expect(cgptAttributes(path, 3)).toMatchObject({ priority: 1, tries: 0, successful: 1 });
  });

  it('gptprio.c:94-96: a damaged copy is repaired from the good one, even with no try to count', async () => {
    const { closeSync, openSync, statSync, writeSync } = await import('node:fs');
    const path2 = await disk([usr(3, 1, 0, true)]);
    const fd2 = openSync(path2, 'r+');
    writeSync(fd2, Buffer.from('XXXXXXXX'), 0, 8, statSync(path2).size - 512); // the backup header's signature
    closeSync(fd2);
    expect(await bootSimulate(path2)).toMatchObject({ partition: 3, tries: 0 });
    expect(await repairGpt(path2)).toEqual([]);
  });

  it('gptprio.c:127: a successful partition with tries left still has them counted down', async () => {
    const path = await disk([usr(3, 1, 2, true)]);
    expect(await bootSimulate(path)).toMatchObject({ partition: 3, tries: 1 });
    expect(cgptAttributes(path, 3)).toMatchObject({ priority: 1, tries: 1, successful: 1 });
  });
});
