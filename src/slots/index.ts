// The slots module's public API: what the daemon, the CLI, the demo and other tests import.
// Internals (header/entry codecs, the table model) stay importable from their own files.

export { openFsDisk } from './fs-disk.ts';
export { readGptTable } from './gpt-reader.ts';
export { USR_PARTITION_TYPE_GUID, type Slot } from './slot-model.ts';
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
} from './slot-operations.ts';
export { bootSimulate, type BootChoice } from './boot-simulator.ts';
export { detectBootedSlot, type SlotDetectPaths } from './booted-slot-detection.ts';
export { createDiskImage } from './disk-image.ts';
