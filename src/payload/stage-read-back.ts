// Stage 5, read-back: each block of a synced run read back from the target into one reused buffer
// and compared byte for byte with its verified bytes, which this stage then lets go. Passes on how far
// the target is durable. Blocks not kept (no read-back) pass straight on.

import { UpdateEngineError, wrapError } from '../errors.ts';
import { readIntoBuffer, type WriteTarget } from '../io/write-target.ts';
import { drop } from './stage-flow.ts';
import type { SyncedRun } from './stage-sync.ts';

export interface ReadBackOptions {
  target: WriteTarget;
  blockSizeBytes: number;
  onFailure?(error: unknown): void;
}

/** Reads block `index` back into `buffer` and compares it with `expected`; ERR_IMAGE_VERIFICATION names the first differing byte. */
export async function compareWithTarget(target: WriteTarget, buffer: Buffer, blockSizeBytes: number, index: number, expected: Uint8Array): Promise<void> {
  const view = buffer.subarray(0, expected.byteLength);
  let n: number;
  try {
    n = await readIntoBuffer(target, view, index * blockSizeBytes);
  } catch (e) {
    throw wrapError(e, 'ERR_IMAGE_VERIFICATION', `Cannot read back "${target.description}"`);
  }
  if (n !== expected.byteLength) {
    throw new UpdateEngineError('ERR_IMAGE_VERIFICATION', `Read back ${n} of ${expected.byteLength} bytes of block ${index} from "${target.description}"`);
  }
  if (!view.equals(expected)) {
    let at = 0;
    while (at < n && view[at] === expected[at]) at++;
    throw new UpdateEngineError(
      'ERR_IMAGE_VERIFICATION',
      `Block ${index} read back from "${target.description}" differs from its verified bytes at offset ${index * blockSizeBytes + at}`,
    );
  }
}

/**
 * Yields `upTo` of each run as it arrives (durable: a resume point may cover it, and a resume re-checks
 * kept blocks anyway), then compares the run's blocks before taking the next one. So the pipeline ends
 * only once every block was compared, and a mismatch fails it with the resume point at the sync.
 */
export async function* readBackRuns(synced: AsyncIterable<SyncedRun>, o: ReadBackOptions): AsyncGenerator<number> {
  let buffer: Buffer | undefined;
  for await (const run of synced) {
    let next = 0;
    try {
      yield run.upTo;
      for (; next < run.blocks.length; next++) {
        const { index, kept } = run.blocks[next] as SyncedRun['blocks'][number];
        if (!kept) continue;
        buffer ??= Buffer.allocUnsafeSlow(o.blockSizeBytes);
        await compareWithTarget(o.target, buffer, o.blockSizeBytes, index, kept.image);
        kept.lease.release();
      }
    } catch (e) {
      o.onFailure?.(e);
      throw e;
    } finally {
      run.blocks.slice(next).forEach(drop); // not compared (a mismatch, or the consumer stopped)
    }
  }
}
