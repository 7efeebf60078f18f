// Stage 1 of a delta apply, in place of receive: each planned block assembled in a leased pool buffer
// from the seed (chunks found there) and the fetched ranges (the rest), in order. A block that took
// bytes from the seed is hashed here against the signed block table first: when it does not match
// (the seed changed under us, or a chunk hash lied), its stored bytes are fetched again. Either way
// the verify stage checks every block before it is written: nothing unverified reaches the target.

import type { Logger } from 'pino';
import { blockHash, type BlockTable } from './block-table.ts';
import type { RangeCursor } from './delta-fetch.ts';
import { FETCHED, ZEROS, type BlockPlan, type DeltaPlan, type Piece } from './delta-plan.ts';
import type { BlockLease, BlockPool } from './block-pool.ts';
import type { HashPool } from './hash-pool.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';
import type { PacedSeed } from './seed-source.ts';
import { mapOrdered, type ReceivedBlock } from './stage-flow.ts';

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

/** Seed pieces less than this apart are read in one read (the bytes between are read and dropped). */
const SEED_GAP_BYTES = 64 * 1024;
const SEED_SPAN_MAX_BYTES = 4 * 1024 * 1024;
/** Blocks whose seed bytes are being hashed while the next ones are filled. */
const CHECK_AHEAD = 3;

/** A block in its lease: filled from the seed, zeros and fetched ranges, or its stored bytes fetched whole. */
interface Filled {
  block: BlockPlan;
  lease: BlockLease;
  /** False when a seed read failed: the block is fetched again. */
  seedOk: boolean;
}

/** Reads the seed pieces (in block order), a run of nearby ones at a time through `scratch`. */
async function readSeedPieces(pieces: Piece[], memory: Buffer, scratch: { buffer: Buffer }, o: AssembleOptions): Promise<void> {
  for (let i = 0; i < pieces.length; ) {
    const first = pieces[i] as Piece;
    let j = i;
    let end = first.seedOffset + first.length;
    for (let next = pieces[j + 1]; next; next = pieces[j + 1]) {
      const after = next.seedOffset + next.length;
      if (next.seedOffset < end || next.seedOffset - end > SEED_GAP_BYTES || after - first.seedOffset > SEED_SPAN_MAX_BYTES) break;
      j++;
      end = after;
    }
    if (j === i) await o.seed.readExactly(memory.subarray(first.at, first.at + first.length), first.seedOffset, o.signal);
    else {
      if (scratch.buffer.byteLength < end - first.seedOffset) scratch.buffer = Buffer.allocUnsafe(SEED_SPAN_MAX_BYTES);
      const span = scratch.buffer.subarray(0, end - first.seedOffset);
      await o.seed.readExactly(span, first.seedOffset, o.signal);
      for (let k = i; k <= j; k++) {
        const piece = pieces[k] as Piece;
        span.copy(memory, piece.at, piece.seedOffset - first.seedOffset, piece.seedOffset - first.seedOffset + piece.length);
      }
    }
    i = j + 1;
  }
}

/** Fills the block's image bytes: fetched ones in order (they come from one stream), zeros, then the seed's. */
async function fill(block: BlockPlan, memory: Buffer, scratch: { buffer: Buffer }, o: AssembleOptions): Promise<boolean> {
  const blockStart = o.dataOffset + block.index * o.manifest.blockSize;
  for (const piece of block.pieces) {
    if (piece.seedOffset === FETCHED) await o.fetched.readAt(blockStart + piece.at, memory.subarray(piece.at, piece.at + piece.length));
    else if (piece.seedOffset === ZEROS) memory.fill(0, piece.at, piece.at + piece.length);
  }
  try {
    await readSeedPieces(
      block.pieces.filter((piece) => piece.seedOffset >= 0),
      memory,
      scratch,
      o,
    );
    return true;
  } catch (e) {
    if (o.signal.aborted) throw e;
    o.logger.warn({ err: e, block: block.index }, `Reading the seed failed: block ${block.index} is fetched instead`);
    return false;
  }
}

/** Fills the planned blocks in order, each in a leased buffer (released here on failure). */
async function* fillBlocks(o: AssembleOptions): AsyncGenerator<Filled> {
  const scratch = { buffer: Buffer.alloc(0) };
  for (const block of o.plan.blocks) {
    const lease = await o.pool.acquire(o.signal);
    let seedOk = true;
    try {
      if (block.fetchWhole) {
        const stored = lease.memory.subarray(0, o.table.storedLengths[block.index] ?? 0);
        await o.fetched.readAt(o.dataOffset + (o.table.storedOffsets[block.index] ?? 0), stored);
      } else seedOk = await fill(block, lease.memory, scratch, o);
    } catch (e) {
      lease.release();
      throw e;
    }
    yield { block, lease, seedOk };
  }
}

/** Checks a filled block's seed bytes against the block table; fetches the block again when they do not match. */
async function checkSeedBytes({ block, lease, seedOk }: Filled, o: AssembleOptions): Promise<ReceivedBlock> {
  const { index } = block;
  const storedLength = o.table.storedLengths[index] ?? 0;
  if (block.fetchWhole) return { index, stored: lease.memory.subarray(0, storedLength), lease };
  const image = lease.memory.subarray(0, imageBlockLength(o.manifest, index));
  try {
    if (block.seedBytes === 0) return { index, stored: image, lease, assembled: true };
    if (seedOk && (await o.hashes.hashOnce(image)).equals(blockHash(o.table, index))) {
      o.counters.bytesReused += block.seedBytes;
      return { index, stored: image, lease, assembled: true, matchedBlockTable: true };
    }
    o.logger.warn({ block: index }, `Block ${index} built from the seed does not match the block table (the booted slot changed?): fetching it again`);
    o.counters.blocksRefetched++;
    const stored = lease.memory.subarray(0, storedLength);
    await o.refetch(index, stored);
    return { index, stored, lease };
  } catch (e) {
    lease.release();
    throw e;
  }
}

/** The blocks in order, ready for the verify stage (which checks every one against the block table again). */
export function assembleBlocks(o: AssembleOptions): AsyncGenerator<ReceivedBlock> {
  return mapOrdered(fillBlocks(o), { limit: CHECK_AHEAD }, (filled) => checkSeedBytes(filled, o));
}
