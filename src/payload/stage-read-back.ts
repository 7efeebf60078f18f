// Stage 5, read-back: each block of a synced run read back from the target into one reused buffer
// and compared byte for byte with its verified bytes, which this stage then lets go. Yields how far
// the target is durable and (with read-back) compared. Blocks not kept (no read-back) pass straight on.

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
    throw new UpdateEngineError('ERR_IMAGE_VERIFICATION', `Block ${index} read back from "${target.description}" differs from its verified bytes at offset ${index * blockSizeBytes + at}`);
  }
}

/** Yields `upTo` of each run once its blocks were compared: blocks [0, upTo) are durable and verified on the target. */
export async function* readBackRuns(synced: AsyncIterable<SyncedRun>, o: ReadBackOptions): AsyncGenerator<number> {
  let buffer: Buffer | undefined;
  for await (const run of synced) {
    let next = 0;
    try {
      for (; next < run.blocks.length; next++) {
        const { index, kept } = run.blocks[next] as SyncedRun['blocks'][number];
        if (!kept) continue;
        buffer ??= Buffer.allocUnsafeSlow(o.blockSizeBytes);
        await compareWithTarget(o.target, buffer, o.blockSizeBytes, index, kept.image);
        kept.lease.release();
      }
    } catch (e) {
      o.onFailure?.(e);
      run.blocks.slice(next).forEach(drop);
      throw e;
    }
    yield run.upTo;
  }
}
