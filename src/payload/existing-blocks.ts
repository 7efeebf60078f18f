// On resume: re-reads the blocks a previous run left on the target (straight into the block slots),
// checks each against the signed block table on the hash workers and, without read-back, feeds them
// in order to the whole-image hash. Any difference means the resume point cannot be trusted.

import { readIntoBuffer, type WriteTarget } from '../io/write-target.ts';
import { blockHash, type BlockTable } from './block-table.ts';
import type { BlockSlots } from './block-slots.ts';
import type { HashPool, WorkerHashStream } from './hash-pool.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';

export interface ExistingBlocksInput {
  target: WriteTarget;
  manifest: PayloadManifest;
  table: BlockTable;
  /** Blocks [0, count) are checked. */
  count: number;
  hashes: HashPool;
  /** The whole-image hash, when the apply keeps one (no read-back). */
  imageHash?: WorkerHashStream | undefined;
  slots: BlockSlots;
  signal: AbortSignal;
  onProgress?(blocksDone: number): void;
}

/** The first block (index) on the target that differs from the table, or undefined when all match. */
export async function findChangedBlock(input: ExistingBlocksInput): Promise<number | undefined> {
  const { manifest, table, target } = input;
  let changed: number | undefined;
  let checked = 0;
  const pending: Array<Promise<void>> = [];
  const note = (index: number) => {
    if (changed === undefined || index < changed) changed = index;
  };
  for (let i = 0; i < input.count && changed === undefined; i++) {
    input.signal.throwIfAborted();
    const slot = await input.slots.acquire(input.signal);
    try {
      const length = imageBlockLength(manifest, i);
      const view = slot.memory.subarray(0, length);
      if ((await readIntoBuffer(target, view, i * manifest.blockSize)) !== length) {
        note(i);
        break;
      }
      if (input.imageHash) {
        slot.hold();
        const hashed = input.imageHash.update(view).finally(() => slot.release());
        hashed.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
        pending.push(hashed);
      }
      slot.hold();
      const check = input.hashes
        .hashOnce(view)
        .then((digest) => {
          if (!digest.equals(blockHash(table, i))) note(i);
          input.onProgress?.(++checked);
        })
        .finally(() => slot.release());
      check.catch(() => undefined);
      pending.push(check);
    } finally {
      slot.release();
    }
  }
  await Promise.all(pending);
  return changed;
}
