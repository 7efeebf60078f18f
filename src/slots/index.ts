// The slots module's public API: what the daemon, the CLI, the demo and other tests import.
// Internals (header/entry codecs, the table model) stay importable from their own files.

export type { Disk } from './disk.ts';
export { openFsDisk, FsDisk, type OpenDiskOptions } from './fs-disk.ts';
export { decodeBootAttributes, encodeBootAttributes, type BootAttributes } from './attributes.ts';
export { readGptTable } from './gpt-reader.ts';
export { writeGptTable, type GptWriteHooks } from './gpt-writer.ts';
export type { GptTable, GptWriteStep } from './gpt-table.ts';
export { USR_PARTITION_TYPE_GUID, USR_SLOT_LABELS, type Slot } from './slot-model.ts';
export {
  listUsrSlots,
  readSlots,
  editSlots,
  prioritize,
  markGood,
  prepareForTry,
  disableSlot,
  restoreBooted,
  repairGpt,
  type DiskSlots,
  type SlotTable,
  type SlotOptions,
  type SlotPartitions,
  type BootEditor,
} from './slot-operations.ts';
export { bootSimulate, chooseBootEntry, type BootChoice } from './boot-simulator.ts';
export {
  detectBootedSlot,
  SYSTEM_SLOT_DETECT_PATHS,
  type DetectSlotInput,
  type DetectedSlot,
  type SlotDetectPaths,
} from './booted-slot-detection.ts';
export { createDiskImage, defaultLayout, PARTITION_TYPE, type DiskImage, type DiskImageOptions, type PartitionSpec } from './disk-image.ts';
