// The write target for a slot. On a block device: the slot's own partition node, opened with O_EXCL,
// after slot-guard found it free and the kernel's idea of the partition matched the GPT; the whole
// disk is never opened for data. On an image file: the slot's byte range of the file.
// openSlotSeed: the booted slot, read-only (the seed of a delta apply).

import { stat } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { BlockDeviceTarget } from '../io/block-device-target.ts';
import { FileRegionTarget } from '../io/file-region-target.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { FileSeedSource, type ClosableSeed } from '../payload/seed-source.ts';
import { assertSlotFree, partitionNodeOf, SYSTEM_GUARD_PATHS, type GuardPaths } from './slot-guard.ts';
import type { Slot } from './slot-model.ts';

function statDisk(disk: string): ReturnType<typeof stat> {
  return stat(disk).catch((e: unknown) => {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open disk "${disk}"`);
  });
}

/**
 * The booted slot, read-only, as the seed of a delta apply: its partition node on a block device (it
 * is in use: opened for reading only, never exclusively), its byte range on an image file.
 */
export async function openSlotSeed(disk: string, slot: Slot, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<ClosableSeed> {
  const st = await statDisk(disk);
  if (!st.isBlockDevice()) return new FileSeedSource(disk, slot.byteOffset, slot.byteLength);
  const node = await partitionNodeOf(disk, slot.partition, paths);
  return new FileSeedSource(node.path, 0, Math.min(node.sizeBytes, slot.byteLength));
}

/** Checks the slot is free and returns its target; ERR_INSTALL_DEVICE naming the device otherwise. Writes nothing. */
export async function openSlotTarget(disk: string, slot: Slot, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<WriteTarget> {
  const st = await statDisk(disk);
  if (!st.isBlockDevice()) return new FileRegionTarget(disk, slot.byteOffset, slot.byteLength);
  const node = await partitionNodeOf(disk, slot.partition, paths);
  if (node.startBytes !== slot.byteOffset || node.sizeBytes !== slot.byteLength) {
    throw new UpdateEngineError(
      'ERR_INSTALL_DEVICE',
      `The kernel's partition ${slot.partition} of "${disk}" (${node.path}: bytes ${node.startBytes}+${node.sizeBytes}) is not the GPT's (bytes ${slot.byteOffset}+${slot.byteLength}); run partx -u ${disk}`,
    );
  }
  await assertSlotFree(node, paths);
  return new BlockDeviceTarget(node.path, node.sizeBytes);
}
