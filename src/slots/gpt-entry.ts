// GPT partition entries (pure): decode one entry of an entry array, encode a new one, and change
// only the 64-bit attribute field of an existing one (every other byte stays as it was).

import { decodeGuid, encodeGuid, isZeroGuid } from './guid.ts';

/** Bytes of the UTF-16LE name field (36 code units) at offset 56 of every entry. */
export const ENTRY_NAME_BYTES = 72;
const ATTRIBUTES_OFFSET = 48;

export interface GptEntry {
  /** 1-based partition number (entry index + 1). */
  partition: number;
  typeGuid: string;
  /** The unique partition GUID (PARTUUID), lower-case. */
  uuid: string;
  firstLba: number;
  lastLba: number;
  /** The whole 64-bit attribute field. */
  attributes: bigint;
  /** The partition name (GPT label), decoded from UTF-16LE up to the first NUL. */
  label: string;
}

export interface EntryArrayShape {
  entryCount: number;
  entrySizeBytes: number;
}

function entryOffset(shape: EntryArrayShape, partition: number): number {
  if (!Number.isInteger(partition) || partition < 1 || partition > shape.entryCount) {
    throw new RangeError(`Partition ${partition} is outside 1..${shape.entryCount}`);
  }
  return (partition - 1) * shape.entrySizeBytes;
}

/** True when the entry's type GUID is not all zeros. */
export function isEntryUsed(entries: Buffer, shape: EntryArrayShape, partition: number): boolean {
  return !isZeroGuid(entries, entryOffset(shape, partition));
}

function decodeName(entries: Buffer, offset: number): string {
  const field = entries.subarray(offset, offset + ENTRY_NAME_BYTES);
  let end = 0;
  while (end + 1 < field.length && (field[end] !== 0 || field[end + 1] !== 0)) end += 2;
  return field.toString('utf16le', 0, end);
}

/** Decodes entry `partition` (1-based); undefined when the entry is unused. */
export function decodeGptEntry(entries: Buffer, shape: EntryArrayShape, partition: number): GptEntry | undefined {
  const o = entryOffset(shape, partition);
  if (isZeroGuid(entries, o)) return undefined;
  return {
    partition,
    typeGuid: decodeGuid(entries, o),
    uuid: decodeGuid(entries, o + 16),
    firstLba: Number(entries.readBigUInt64LE(o + 32)),
    lastLba: Number(entries.readBigUInt64LE(o + 40)),
    attributes: entries.readBigUInt64LE(o + ATTRIBUTES_OFFSET),
    label: decodeName(entries, o + 56),
  };
}

/** Every used entry, in partition order. */
export function decodeGptEntries(entries: Buffer, shape: EntryArrayShape): GptEntry[] {
  const out: GptEntry[] = [];
  for (let p = 1; p <= shape.entryCount; p++) {
    const e = decodeGptEntry(entries, shape, p);
    if (e) out.push(e);
  }
  return out;
}

/** Writes a whole new entry (used when creating a table); the bytes past the name are zeroed. */
export function encodeGptEntry(entries: Buffer, shape: EntryArrayShape, entry: Omit<GptEntry, 'partition'> & { partition: number }): void {
  const o = entryOffset(shape, entry.partition);
  const name = Buffer.from(entry.label, 'utf16le');
  if (name.length > ENTRY_NAME_BYTES) throw new RangeError(`Partition name "${entry.label}" is longer than 36 UTF-16 code units`);
  entries.fill(0, o, o + shape.entrySizeBytes);
  encodeGuid(entry.typeGuid, entries, o);
  encodeGuid(entry.uuid, entries, o + 16);
  entries.writeBigUInt64LE(BigInt(entry.firstLba), o + 32);
  entries.writeBigUInt64LE(BigInt(entry.lastLba), o + 40);
  entries.writeBigUInt64LE(entry.attributes, o + ATTRIBUTES_OFFSET);
  name.copy(entries, o + 56);
}

/** Replaces only the attribute field of entry `partition`. */
export function setEntryAttributes(entries: Buffer, shape: EntryArrayShape, partition: number, attributes: bigint): void {
  entries.writeBigUInt64LE(attributes, entryOffset(shape, partition) + ATTRIBUTES_OFFSET);
}
