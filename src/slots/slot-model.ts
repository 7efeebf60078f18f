// What a slot is (pure): the USR partition type and labels, a partition entry seen as a slot with
// its boot attributes and byte range, and the checks that a partition number names a usable slot.

import { UpdateEngineError } from '../errors.ts';
import { decodeBootAttributes } from './attributes.ts';
import { decodeGptEntries, decodeGptEntry, type GptEntry } from './gpt-entry.ts';
import type { GptTable } from './gpt-table.ts';

/** Partition type of a /usr slot (sgdisk code 8500, "Container Linux /usr"). */
export const USR_PARTITION_TYPE_GUID = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';
/** The labels slots usually carry; a label alone never makes a slot (issue 14: a mislabelled partition would boot-loop). */
export const USR_SLOT_LABELS: readonly string[] = ['USR-A', 'USR-B'];

export interface Slot {
  partition: number;
  label: string;
  typeGuid: string;
  /** The partition GUID (PARTUUID), lower-case. */
  uuid: string;
  priority: number;
  tries: number;
  successful: boolean;
  firstLba: number;
  lastLba: number;
  /** Where the partition starts on the disk, in bytes. */
  byteOffset: number;
  byteLength: number;
}

/** The partition has the /usr type GUID (what GRUB's gptprio looks at). */
export function hasUsrType(entry: Pick<GptEntry, 'typeGuid'>): boolean {
  return entry.typeGuid === USR_PARTITION_TYPE_GUID;
}

/** The partition is a slot: it has the slot type GUID (default /usr; SLOT_TYPE), whatever its label. */
export function isUsrSlot(entry: Pick<GptEntry, 'typeGuid' | 'label'>, typeGuid: string = USR_PARTITION_TYPE_GUID): boolean {
  return entry.typeGuid.toLowerCase() === typeGuid.toLowerCase();
}

export function slotFromEntry(entry: GptEntry, sectorSizeBytes: number): Slot {
  const boot = decodeBootAttributes(entry.attributes);
  return {
    partition: entry.partition,
    label: entry.label,
    typeGuid: entry.typeGuid,
    uuid: entry.uuid,
    priority: boot.priority,
    tries: boot.tries,
    successful: boot.successful,
    firstLba: entry.firstLba,
    lastLba: entry.lastLba,
    byteOffset: entry.firstLba * sectorSizeBytes,
    byteLength: (entry.lastLba - entry.firstLba + 1) * sectorSizeBytes,
  };
}

/** Every /usr slot of the table, in partition order. */
export function usrSlotsOf(table: GptTable, typeGuid: string = USR_PARTITION_TYPE_GUID): Slot[] {
  return decodeGptEntries(table.entries, table.primary)
    .filter((e) => isUsrSlot(e, typeGuid))
    .map((e) => slotFromEntry(e, table.geometry.sectorSizeBytes));
}

/**
 * The entry of partition `partition`, which must exist, be a /usr slot and lie inside the usable
 * LBAs; otherwise ERR_SLOT_NOT_FOUND, ERR_SLOT_NOT_USR or ERR_GPT_INVALID with a message naming it.
 */
export function requireUsrSlot(table: GptTable, partition: number, diskPath: string, typeGuid: string = USR_PARTITION_TYPE_GUID): GptEntry {
  const count = table.primary.entryCount;
  if (!Number.isInteger(partition) || partition < 1 || partition > count) {
    throw new UpdateEngineError('ERR_SLOT_NOT_FOUND', `Partition ${partition} is out of range on "${diskPath}" (its GPT has partitions 1..${count})`);
  }
  const entry = decodeGptEntry(table.entries, table.primary, partition);
  if (!entry) throw new UpdateEngineError('ERR_SLOT_NOT_FOUND', `Partition ${partition} does not exist on "${diskPath}"`);
  if (!isUsrSlot(entry, typeGuid)) {
    const labelled = USR_SLOT_LABELS.includes(entry.label)
      ? ' (its label alone does not make it one: the bootloader would not boot it and the machine would boot-loop)'
      : '';
    throw new UpdateEngineError(
      'ERR_SLOT_NOT_USR',
      `Partition ${partition} ("${entry.label}") on "${diskPath}" is not a USR slot: its type is ${entry.typeGuid}, not ${typeGuid}${typeGuid === USR_PARTITION_TYPE_GUID ? '' : ' (SLOT_TYPE)'}${labelled}`,
    );
  }
  const { firstUsableLba, lastUsableLba } = table.primary;
  if (entry.firstLba < firstUsableLba || entry.lastLba > lastUsableLba || entry.firstLba > entry.lastLba) {
    throw new UpdateEngineError(
      'ERR_GPT_INVALID',
      `Partition ${partition} on "${diskPath}" spans LBAs ${entry.firstLba}..${entry.lastLba}, outside the usable ${firstUsableLba}..${lastUsableLba}`,
    );
  }
  return entry;
}
