// Stage 3, write: each verified block written to the target at its offset, several writes in flight,
// passed on in order once written. The block's bytes go on with it only when the read-back will need
// them; otherwise this stage is their last user and lets them go.

import { wrapError } from '../errors.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { mapOrdered, type VerifiedBlock, type WrittenBlock } from './stage-flow.ts';

export interface WriteOptions {
  target: WriteTarget;
  blockSizeBytes: number;
  /** Keep each block's bytes for the read-back. */
  keepForReadBack: boolean;
  /** Writes in flight (or done and not yet taken) at once. */
  limit: number;
  onFailure?(error: unknown): void;
  /** Blocks [0, blocksDone) are written (not necessarily durable yet). */
  onWritten?(blocksDone: number): void;
}

async function writeOne(block: VerifiedBlock, o: WriteOptions): Promise<WrittenBlock> {
  try {
    await o.target.write(block.image, block.index * o.blockSizeBytes);
  } catch (e) {
    block.lease.release();
    throw wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot write block ${block.index} to "${o.target.description}"`);
  }
  if (o.keepForReadBack) return { index: block.index, kept: { image: block.image, lease: block.lease } };
  block.lease.release();
  return { index: block.index, kept: undefined };
}

export async function* writeBlocks(verified: AsyncIterable<VerifiedBlock>, o: WriteOptions): AsyncGenerator<WrittenBlock> {
  for await (const block of mapOrdered(verified, o, (b) => writeOne(b, o))) {
    o.onWritten?.(block.index + 1);
    yield block;
  }
}
