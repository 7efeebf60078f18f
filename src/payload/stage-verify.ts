// Stage 2, verify: each received block decoded (inflated in the libuv pool when compressed, into its
// own buffer) and its image bytes checked against the signed block table by the BlockVerifier, several
// blocks at once, passed on in order. A block that does not match is never passed on.

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

/**
 * The block's image bytes in its own buffer: the stored bytes themselves, or the inflated bytes copied
 * over them once the payload hash is done with them (so that the hash workers read shared memory in
 * place, and nothing but the pool holds a block's bytes from here on).
 */
async function imageInLease(block: ReceivedBlock, o: VerifyOptions): Promise<Uint8Array> {
  const { index, stored, lease } = block;
  if (o.manifest.compression === 'none' || block.assembled) return stored;
  const decoded = await decodeBlock(o.manifest.compression, stored, imageBlockLength(o.manifest, index), index);
  await block.payloadHashed;
  lease.memory.set(decoded);
  return lease.memory.subarray(0, decoded.byteLength);
}

/** Verifies one block; owns its lease until it returns the block (or releases the lease and throws). */
async function verifyOne(block: ReceivedBlock, o: VerifyOptions): Promise<VerifiedBlock> {
  const { index, lease } = block;
  const image = imageInLease(block, o);
  const checked = block.matchedBlockTable && !o.verifier.hashesImage ? Promise.resolve() : o.verifier.check(index, image);
  try {
    await Promise.all([checked, block.payloadHashed]);
    return { index, image: await image, lease };
  } catch (e) {
    await Promise.allSettled([checked, block.payloadHashed]); // no worker reads the buffer any more
    lease.release();
    throw e;
  }
}

export function verifyBlocks(received: AsyncIterable<ReceivedBlock>, o: VerifyOptions): AsyncGenerator<VerifiedBlock> {
  return mapOrdered(received, o, (block) => verifyOne(block, o));
}
