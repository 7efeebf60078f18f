// On resume: re-reads the blocks a previous run left on the target (straight into pool buffers) and
// checks each with the BlockVerifier, the same check as a received block (without read-back it also
// feeds them, in order, to the whole-image hash). Any difference means the resume point cannot be trusted.

import { readIntoBuffer, type WriteTarget } from '../io/write-target.ts';
import type { BlockPool } from './block-pool.ts';
import type { BlockVerifier } from './block-verifier.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';

export interface ExistingBlocksInput {
  target: WriteTarget;
  manifest: Pick<PayloadManifest, 'blockSize' | 'imageSize' | 'blockCount'>;
  /** Blocks [0, count) are checked. */
  count: number;
  verifier: BlockVerifier;
  pool: BlockPool;
  signal: AbortSignal;
  onProgress?(blocksDone: number): void;
}

/** The first block (index) on the target that differs from the table, or undefined when all match. */
export async function findChangedBlock(input: ExistingBlocksInput): Promise<number | undefined> {
  const { manifest, target } = input;
  let changed: number | undefined;
  let checked = 0;
  const pending: Array<Promise<void>> = [];
  const note = (index: number) => {
    if (changed === undefined || index < changed) changed = index;
  };
  for (let i = 0; i < input.count && changed === undefined; i++) {
    const lease = await input.pool.acquire(input.signal);
    const length = imageBlockLength(manifest, i);
    const view = lease.memory.subarray(0, length);
    let n: number;
    try {
      n = await readIntoBuffer(target, view, i * manifest.blockSize);
    } catch (e) {
      lease.release();
      throw e;
    }
    if (n !== length) {
      lease.release();
      note(i);
      break;
    }
    // The check owns the lease from here and lets it go once no worker reads it.
    const check = input.verifier
      .matches(i, view)
      .then((same) => {
        if (!same) note(i);
        input.onProgress?.(++checked);
      })
      .finally(() => lease.release());
    check.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    pending.push(check);
  }
  await Promise.all(pending);
  return changed;
}
