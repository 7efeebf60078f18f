// Stage 2, verify: each received block decoded (inflated in the libuv pool when compressed) and its
// image bytes checked against the signed block table by the BlockVerifier, several blocks at once,
// passed on in order. A block that does not match is never passed on: nothing unverified is written.

import { decodeBlock } from './block-codec.ts';
import type { BlockVerifier } from './block-verifier.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';
import { mapOrdered, type ReceivedBlock, type VerifiedBlock } from './stage-flow.ts';

export interface VerifyOptions {
  manifest: Pick<PayloadManifest, 'compression' | 'blockSize' | 'imageSize' | 'blockCount'>;
  verifier: BlockVerifier;
  /** Blocks being verified (or verified and not yet taken) at once. */
  limit: number;
  onFailure?(error: unknown): void;
}

/** Verifies one block; owns its lease until it returns the block (or releases the lease and throws). */
async function verifyOne(block: ReceivedBlock, o: VerifyOptions): Promise<VerifiedBlock> {
  const { index, stored, lease } = block;
  const decoded = decodeBlock(o.manifest.compression, stored, imageBlockLength(o.manifest, index), index);
  const checked = o.verifier.check(index, decoded);
  try {
    await Promise.all([checked, block.payloadHashed]);
    return { index, image: await decoded, lease };
  } catch (e) {
    await Promise.allSettled([checked, block.payloadHashed]); // no worker reads the buffer any more
    lease.release();
    throw e;
  }
}

export function verifyBlocks(received: AsyncIterable<ReceivedBlock>, o: VerifyOptions): AsyncGenerator<VerifiedBlock> {
  return mapOrdered(received, o, (block) => verifyOne(block, o));
}
