// The slot operations other modules call: read the slots, prioritize, mark good, prepare for a try,
// disable, restore the booted slot, repair. Each opens the disk, reads and validates the GPT once,
// changes only the boot bits of /usr slots, and writes both copies crash-safely (or nothing).

import { UpdateEngineError } from '../errors.ts';
import { decodeBootAttributes, encodeBootAttributes, type BootAttributes } from './attributes.ts';
import { decodeGptEntry, setEntryAttributes } from './gpt-entry.ts';
import { readGptTable } from './gpt-reader.ts';
import type { GptTable } from './gpt-table.ts';
import { writeGptTable, type GptWriteHooks } from './gpt-writer.ts';
import { openFsDisk } from './fs-disk.ts';
import { requireUsrSlot, slotFromEntry, usrSlotsOf, type Slot } from './slot-model.ts';
import { prioritizePartitions } from './slot-priority.ts';

export interface SlotOptions {
  /** Sector size of an image file (default: probed); block devices report theirs. */
  sectorSizeBytes?: number | undefined;
  /** Called after each individual GPT write (crash injection). */
  hooks?: GptWriteHooks;
  /** sysfs block directory (tests). */
  sysBlock?: string | undefined;
  /** The partition type GUID a slot must have (SLOT_TYPE); default the /usr type. */
  slotTypeGuid?: string | undefined;
}

export interface SlotPartitions {
  slotAPartition: number;
  slotBPartition: number;
  /** SLOT_TYPE; default the /usr type. */
  slotTypeGuid?: string;
}

/** The /usr slots of a disk. */
export interface DiskSlots {
  disk: string;
  sectorSizeBytes: number;
  diskSizeBytes: number;
  /** Every slot (the slot type GUID; a label alone does not count), in partition order. */
  usrSlots: Slot[];
  /** Damage found on the disk (a bad or stale GPT copy); the next write repairs it. */
  problems: string[];
}

export interface SlotTable extends DiskSlots {
  slotA: Slot;
  slotB: Slot;
}

/** Opens the disk, reads the GPT and calls `use` with it; read only. */
async function withTable<T>(disk: string, options: SlotOptions, use: (table: GptTable, sizeBytes: number) => T): Promise<T> {
  const d = await openFsDisk(disk, { sectorSizeBytes: options.sectorSizeBytes, sysBlock: options.sysBlock });
  try {
    return use(await readGptTable(d), d.sizeBytes);
  } finally {
    await d.close();
  }
}

function view(disk: string, table: GptTable, sizeBytes: number, typeGuid?: string): DiskSlots {
  return { disk, sectorSizeBytes: table.geometry.sectorSizeBytes, diskSizeBytes: sizeBytes, usrSlots: usrSlotsOf(table, typeGuid), problems: table.problems };
}

/** Every /usr slot on the disk (for `slots show`). */
export function listUsrSlots(disk: string, options: SlotOptions = {}): Promise<DiskSlots> {
  return withTable(disk, options, (table, size) => view(disk, table, size, options.slotTypeGuid));
}

/** The two configured slots (each must exist and be a /usr slot), plus every /usr slot. */
export function readSlots(disk: string, partitions: SlotPartitions, options: SlotOptions = {}): Promise<SlotTable> {
  const typeGuid = partitions.slotTypeGuid ?? options.slotTypeGuid;
  return withTable(disk, options, (table, size) => {
    const ss = table.geometry.sectorSizeBytes;
    const slotA = slotFromEntry(requireUsrSlot(table, partitions.slotAPartition, disk, typeGuid), ss);
    const slotB = slotFromEntry(requireUsrSlot(table, partitions.slotBPartition, disk, typeGuid), ss);
    return { ...view(disk, table, size, typeGuid), slotA, slotB };
  });
}

/** Edits boot attributes of the table in memory. */
export interface BootEditor {
  get(partition: number): BootAttributes;
  set(partition: number, boot: Partial<BootAttributes>): void;
  /** cgpt prioritize over every /usr slot: `partition` to the top, the rest renumbered. */
  prioritize(partition: number): void;
}

function editorFor(table: GptTable, disk: string, typeGuid?: string): BootEditor {
  const shape = table.primary;
  const attrsOf = (p: number): bigint => decodeGptEntry(table.entries, shape, p)?.attributes ?? 0n;
  const editor: BootEditor = {
    get: (p) => decodeBootAttributes(requireUsrSlot(table, p, disk, typeGuid).attributes),
    set: (p, boot) => {
      requireUsrSlot(table, p, disk, typeGuid);
      const old = attrsOf(p);
      setEntryAttributes(table.entries, shape, p, encodeBootAttributes(old, { ...decodeBootAttributes(old), ...boot }));
    },
    prioritize: (p) => {
      requireUsrSlot(table, p, disk, typeGuid);
      const current = new Map(usrSlotsOf(table, typeGuid).map((s) => [s.partition, s.priority] as const));
      for (const [partition, priority] of prioritizePartitions(current, p)) {
        if (priority !== current.get(partition)) editor.set(partition, { priority });
      }
    },
  };
  return editor;
}

/**
 * One read-modify-write of the GPT: validates everything `edit` touches before any write, then
 * writes both copies crash-safely. Writes nothing when the table is unchanged and undamaged.
 */
export async function editSlots(disk: string, options: SlotOptions, edit: (editor: BootEditor) => void): Promise<DiskSlots> {
  const d = await openFsDisk(disk, { writable: true, sectorSizeBytes: options.sectorSizeBytes, sysBlock: options.sysBlock });
  try {
    const table = await readGptTable(d);
    const before = Buffer.from(table.entries);
    edit(editorFor(table, disk, options.slotTypeGuid));
    if (!before.equals(table.entries) || table.problems.length > 0) await writeGptTable(d, table, options.hooks);
    return { ...view(disk, table, d.sizeBytes, options.slotTypeGuid), problems: [] };
  } finally {
    await d.close();
  }
}

/** Moves `partition` to the top priority (cgpt semantics over the /usr slots). */
export function prioritize(disk: string, partition: number, options: SlotOptions = {}): Promise<DiskSlots> {
  return editSlots(disk, options, (e) => e.prioritize(partition));
}

/** After a healthy boot: successful=1, tries=0, then prioritize. */
export function markGood(disk: string, partition: number, options: SlotOptions = {}): Promise<DiskSlots> {
  return editSlots(disk, options, (e) => {
    e.set(partition, { successful: true, tries: 0 });
    e.prioritize(partition);
  });
}

/** The flip after installing into `partition`: successful=0, tries=1, then prioritize. */
export function prepareForTry(disk: string, partition: number, options: SlotOptions = {}): Promise<DiskSlots> {
  return editSlots(disk, options, (e) => {
    e.set(partition, { successful: false, tries: 1 });
    e.prioritize(partition);
  });
}

/** Never boot `partition`: priority=0, tries=0, successful=0 (before writing into it, after a failed update). */
export function disableSlot(disk: string, partition: number, options: SlotOptions = {}): Promise<DiskSlots> {
  return editSlots(disk, options, (e) => e.set(partition, { priority: 0, tries: 0, successful: false }));
}

/** Undoes a flip in one write: `passive` disabled (priority, tries, successful all 0), `booted` back on top. */
export function restoreBooted(disk: string, booted: number, passive: number, options: SlotOptions = {}): Promise<DiskSlots> {
  if (booted === passive) {
    return Promise.reject(new UpdateEngineError('ERR_SLOT_DETECT', `The booted and the passive slot are both partition ${booted} on "${disk}"`));
  }
  return editSlots(disk, options, (e) => {
    e.set(passive, { priority: 0, tries: 0, successful: false });
    e.prioritize(booted);
  });
}

/** Rewrites a damaged or stale GPT copy from the valid one; returns what was wrong (empty: nothing to do). */
export async function repairGpt(disk: string, options: SlotOptions = {}): Promise<string[]> {
  const d = await openFsDisk(disk, { writable: true, sectorSizeBytes: options.sectorSizeBytes, sysBlock: options.sysBlock });
  try {
    const table = await readGptTable(d);
    if (table.problems.length > 0) await writeGptTable(d, table, options.hooks);
    return table.problems;
  } finally {
    await d.close();
  }
}
