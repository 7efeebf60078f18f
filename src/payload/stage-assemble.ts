// Stage 1 of a delta apply, in place of receive: each planned block assembled in a leased pool buffer
// from the seed (chunks found there) and the fetched ranges (the rest), in order. A block that took
// bytes from the seed is hashed here against the signed block table first: when it does not match
// (the seed changed under us, or a chunk hash lied), its stored bytes are fetched again. Either way
// the verify stage checks every block before it is written: nothing unverified reaches the target.

import type { Logger } from 'pino';
import { blockHash, type BlockTable } from './block-table.ts';
import type { RangeCursor } from './delta-fetch.ts';
import { FETCHED, ZEROS, type BlockPlan, type DeltaPlan } from './delta-plan.ts';
import type { BlockLease, BlockPool } from './block-pool.ts';
import type { HashPool } from './hash-pool.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';
import type { PacedSeed } from './seed-source.ts';
import type { ReceivedBlock } from './stage-flow.ts';

export interface AssembleCounters {
  /** Image bytes copied from the seed (in blocks that verified). */
  bytesReused: number;
  /** Blocks whose seed bytes did not match and were fetched again. */
  blocksRefetched: number;
}

export interface AssembleOptions {
  plan: DeltaPlan;
  manifest: Pick<PayloadManifest, 'imageSize' | 'blockSize'>;
  table: BlockTable;
  dataOffset: number;
  seed: PacedSeed;
  fetched: RangeCursor;
  pool: BlockPool;
  hashes: HashPool;
  /** Fetches block `index`'s stored bytes into `dest` (exactly its stored length). */
  refetch(index: number, dest: Uint8Array): Promise<void>;
  counters: AssembleCounters;
  signal: AbortSignal;
  logger: Logger;
}

/** Fills the block's image bytes; false when a seed read failed (the fetched bytes are still consumed, in order). */
async function fill(block: BlockPlan, memory: Buffer, o: AssembleOptions): Promise<boolean> {
  const blockStart = o.dataOffset + block.index * o.manifest.blockSize;
  let seedOk = true;
  for (const piece of block.pieces) {
    const dest = memory.subarray(piece.at, piece.at + piece.length);
    if (piece.seedOffset === FETCHED) await o.fetched.readAt(blockStart + piece.at, dest);
    else if (piece.seedOffset === ZEROS) dest.fill(0);
    else if (seedOk) {
      try {
        await o.seed.readExactly(dest, piece.seedOffset, o.signal);
      } catch (e) {
        if (o.signal.aborted) throw e;
        o.logger.warn({ err: e, block: block.index }, `Reading the seed failed: block ${block.index} is fetched instead`);
        seedOk = false;
      }
    }
  }
  return seedOk;
}

/** The block's bytes in its lease: assembled (image bytes), or its stored bytes fetched (whole, or again). */
async function assembleOne(block: BlockPlan, lease: BlockLease, o: AssembleOptions): Promise<ReceivedBlock> {
  const { index } = block;
  const storedLength = o.table.storedLengths[index] ?? 0;
  if (block.fetchWhole) {
    const stored = lease.memory.subarray(0, storedLength);
    await o.fetched.readAt(o.dataOffset + (o.table.storedOffsets[index] ?? 0), stored);
    return { index, stored, lease };
  }
  const seedOk = await fill(block, lease.memory, o);
  const image = lease.memory.subarray(0, imageBlockLength(o.manifest, index));
  if (block.seedBytes === 0) return { index, stored: image, lease, assembled: true };
  if (seedOk && (await o.hashes.hashOnce(image)).equals(blockHash(o.table, index))) {
    o.counters.bytesReused += block.seedBytes;
    return { index, stored: image, lease, assembled: true };
  }
  o.logger.warn({ block: index }, `Block ${index} built from the seed does not match the block table (the booted slot changed?): fetching it again`);
  o.counters.blocksRefetched++;
  const stored = lease.memory.subarray(0, storedLength);
  await o.refetch(index, stored);
  return { index, stored, lease };
}

export async function* assembleBlocks(o: AssembleOptions): AsyncGenerator<ReceivedBlock> {
  for (const block of o.plan.blocks) {
    const lease = await o.pool.acquire(o.signal);
    let received: ReceivedBlock;
    try {
      received = await assembleOne(block, lease, o);
    } catch (e) {
      lease.release();
      throw e;
    }
    yield received;
  }
}
