// Slots in a table: boot bits, byte ranges, and the checks on a partition number.
import { describe, expect, it } from 'vitest';
import { encodeBootAttributes } from '../../src/slots/attributes.ts';
import { encodeGptEntry } from '../../src/slots/gpt-entry.ts';
import { checkGptHeader, encodeGptHeader } from '../../src/slots/gpt-header.ts';
import { deriveBackupHeader, type GptTable } from '../../src/slots/gpt-table.ts';
import { isUsrSlot, requireUsrSlot, slotFromEntry, USR_PARTITION_TYPE_GUID, usrSlotsOf } from '../../src/slots/slot-model.ts';

const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
const geometry = { sectorSizeBytes: 4096, totalSectors: 4096 };

function table(): GptTable {
  const shape = { entryCount: 16, entrySizeBytes: 128 };
  const entries = Buffer.alloc(4096);
  const put = (partition: number, typeGuid: string, label: string, firstLba: number, lastLba: number, attributes = 0n) =>
    encodeGptEntry(entries, shape, {
      partition,
      typeGuid,
      label,
      firstLba,
      lastLba,
      attributes,
      uuid: `00000000-0000-4000-8000-00000000000${partition.toString(16)}`,
    });
  put(3, USR_PARTITION_TYPE_GUID, 'USR-A', 256, 511, encodeBootAttributes(1n << 60n, { priority: 1, tries: 0, successful: true }));
  put(4, USR_PARTITION_TYPE_GUID, 'USR-B', 512, 767);
  put(5, LINUX, 'USR-B', 768, 1023); // a USR label on another type does not count (issue 14)
  put(6, LINUX, 'OEM', 1024, 1279);
  put(7, USR_PARTITION_TYPE_GUID, 'USR-X', 3, 5000); // outside the usable LBAs
  const sector = encodeGptHeader(
    {
      revision: 0x10000,
      headerSizeBytes: 92,
      myLba: 1,
      alternateLba: 4095,
      firstUsableLba: 3,
      lastUsableLba: 4093,
      diskGuid: USR_PARTITION_TYPE_GUID,
      entriesLba: 2,
      entryCount: 16,
      entrySizeBytes: 128,
      entriesCrc32: 0,
    },
    4096,
  );
  const checked = checkGptHeader(sector, 1, geometry);
  if (!('header' in checked)) throw new Error(checked.reason);
  return { geometry, primary: checked.header, backup: deriveBackupHeader(checked.header, geometry), entries, source: 'primary', problems: [] };
}

describe('slots in a GPT', () => {
  it('sees a slot with its boot bits and its byte range (4096-byte sectors)', () => {
    const t = table();
    const a = requireUsrSlot(t, 3, 'disk.img');
    expect(slotFromEntry(a, 4096)).toEqual({
      partition: 3,
      label: 'USR-A',
      typeGuid: USR_PARTITION_TYPE_GUID,
      uuid: '00000000-0000-4000-8000-000000000003',
      priority: 1,
      tries: 0,
      successful: true,
      firstLba: 256,
      lastLba: 511,
      byteOffset: 256 * 4096,
      byteLength: 256 * 4096,
    });
  });

  it('counts only the slot type GUID as a slot, never a USR-A/USR-B label alone', () => {
    expect(usrSlotsOf(table()).map((s) => s.partition)).toEqual([3, 4, 7]);
    expect(isUsrSlot({ typeGuid: LINUX, label: 'USR-A' })).toBe(false);
    expect(isUsrSlot({ typeGuid: LINUX, label: 'USR-A' }, LINUX)).toBe(true);
    expect(usrSlotsOf(table(), LINUX).map((s) => s.partition)).toEqual([5, 6]);
  });

  it.each([
    [0, 'ERR_SLOT_NOT_FOUND', 'Partition 0 is out of range on "disk.img" (its GPT has partitions 1..16)'],
    [17, 'ERR_SLOT_NOT_FOUND', 'Partition 17 is out of range on "disk.img" (its GPT has partitions 1..16)'],
    [2, 'ERR_SLOT_NOT_FOUND', 'Partition 2 does not exist on "disk.img"'],
    [6, 'ERR_SLOT_NOT_USR', `Partition 6 ("OEM") on "disk.img" is not a USR slot: its type is ${LINUX}, not ${USR_PARTITION_TYPE_GUID}`],
    [
      5,
      'ERR_SLOT_NOT_USR',
      `Partition 5 ("USR-B") on "disk.img" is not a USR slot: its type is ${LINUX}, not ${USR_PARTITION_TYPE_GUID} (its label alone does not make it one: the bootloader would not boot it and the machine would boot-loop)`,
    ],
    [7, 'ERR_GPT_INVALID', 'Partition 7 on "disk.img" spans LBAs 3..5000, outside the usable 3..4093'],
  ])('refuses partition %i with %s', (partition, code, message) => {
    expect(() => requireUsrSlot(table(), partition, 'disk.img')).toThrow(expect.objectContaining({ code, message }));
  });
});
