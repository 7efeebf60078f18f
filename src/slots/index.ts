// The slots module's public API: what the daemon, the CLI, the boot backends, the demo and the tests
// import. Internals (header/entry codecs, the table model) stay importable from their own files.

export { openFsDisk } from './fs-disk.ts';
export { encodeBootAttributes } from './attributes.ts';
export { readGptTable } from './gpt-reader.ts';
export type { GptWriteStep } from './gpt-table.ts';
export type { Slot } from './slot-model.ts';
export {
  listUsrSlots,
  readSlots,
  prioritize,
  markGood,
  prepareForTry,
  disableSlot,
  restoreBooted,
  repairGpt,
  type DiskSlots,
  type SlotOptions,
  type SlotPartitions,
} from './slot-operations.ts';
export { bootSimulate, chooseBootEntry, type BootChoice } from './boot-simulator.ts';
export { detectBootedSlot, type DetectSlotInput, type DetectedSlot, type SlotDetectPaths } from './booted-slot-detection.ts';
export { createDiskImage, PARTITION_TYPE, type DiskImage, type PartitionSpec } from './disk-image.ts';
