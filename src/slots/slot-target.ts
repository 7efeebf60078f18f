// The write target for a slot. On a block device: the slot's own partition node, opened with O_EXCL,
// after slot-guard found it free and the kernel's idea of the partition matched the GPT; the whole
// disk is never opened for data. On an image file: the slot's byte range of the file.

import { stat } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { BlockDeviceTarget } from '../io/block-device-target.ts';
import { FileRegionTarget } from '../io/file-region-target.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { assertSlotFree, partitionNodeOf, SYSTEM_GUARD_PATHS, type GuardPaths } from './slot-guard.ts';
import type { Slot } from './slot-model.ts';

/** Checks the slot is free and returns its target; ERR_INSTALL_DEVICE naming the device otherwise. Writes nothing. */
export async function openSlotTarget(disk: string, slot: Slot, paths: GuardPaths = SYSTEM_GUARD_PATHS): Promise<WriteTarget> {
  const st = await stat(disk).catch((e: unknown) => {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open disk "${disk}"`);
  });
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
