// Stage 5, read-back: each block of a synced run read back from the target and compared byte for byte
// with its verified bytes, which this stage then lets go. Passes on how far the target is durable.
// Blocks not kept (no read-back) pass straight on. With a device reader (O_DIRECT) the bytes come from
// the device, not from the page cache that still holds our own writes (issue 17); without one (tmpfs before Linux 6.6)
// they are read into one reused buffer through the page cache.

import { UpdateEngineError, wrapError } from '../errors.ts';
import type { DeviceReader } from '../io/device-reader.ts';
import { readIntoBuffer, type WriteTarget } from '../io/write-target.ts';
import { drop } from './stage-flow.ts';
import type { SyncedRun } from './stage-sync.ts';

export interface ReadBackOptions {
  target: WriteTarget;
  blockSizeBytes: number;
  /** Reads past the page cache; without it the target's own reads are used. */
  device?: DeviceReader | undefined;
  onFailure?(error: unknown): void;
}

/** Block `index` as read back: from the device when there is a reader, else into `buffer` (allocated on first use). */
async function readBlock(target: WriteTarget, o: ReadBackOptions, state: { buffer?: Buffer }, index: number, length: number): Promise<Buffer> {
  const offset = index * o.blockSizeBytes;
  if (o.device) return o.device.read(offset, length);
  state.buffer ??= Buffer.allocUnsafeSlow(o.blockSizeBytes);
  const view = state.buffer.subarray(0, length);
  return view.subarray(0, await readIntoBuffer(target, view, offset));
}

/** Reads block `index` back and compares it with `expected`; ERR_IMAGE_VERIFICATION names the first differing byte. */
async function compareWithTarget(o: ReadBackOptions, state: { buffer?: Buffer }, index: number, expected: Uint8Array): Promise<void> {
  const { target, blockSizeBytes } = o;
  let view: Buffer;
  try {
    view = await readBlock(target, o, state, index, expected.byteLength);
  } catch (e) {
    throw wrapError(e, 'ERR_IMAGE_VERIFICATION', `Cannot read back "${target.description}"`);
  }
  const n = view.byteLength;
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
  const state: { buffer?: Buffer } = {};
  for await (const run of synced) {
    let next = 0;
    try {
      yield run.upTo;
      for (; next < run.blocks.length; next++) {
        const { index, kept } = run.blocks[next] as SyncedRun['blocks'][number];
        if (!kept) continue;
        await compareWithTarget(o, state, index, kept.image);
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
