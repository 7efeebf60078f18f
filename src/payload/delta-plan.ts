// The plan of a delta apply: for each block to write, where each of its bytes comes from - a range of
// the seed (a chunk found there) or the payload (a chunk missing) - and the payload ranges to fetch,
// coalesced: adjacent ranges, or ranges less than MERGE_GAP_BYTES apart, become one. With compressed
// blocks a block that misses any chunk is fetched whole (its stored bytes).

import type { BlockTable } from './block-table.ts';
import { chunkHash, indexHash, type ChunkIndex } from './chunk-index.ts';
import { ChunkLookup, type SeedOffsets } from './delta-index.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';

/** Ranges closer than this are fetched as one (the gap's bytes are read and dropped). */
export const MERGE_GAP_BYTES = 16 * 1024;

/** A piece's seedOffset when its bytes are fetched. */
export const FETCHED = -1;
/** A piece's seedOffset when its chunk is all zeros (free space, sparse regions): filled in memory, neither read nor fetched. */
export const ZEROS = -2;

/** Bytes of a block: `length` bytes at block offset `at`, from the seed at `seedOffset`, fetched (FETCHED) or zeros (ZEROS). */
export interface Piece {
  at: number;
  length: number;
  seedOffset: number;
}

export interface BlockPlan {
  index: number;
  /** The image bytes of the block in order; empty when the block is fetched whole. */
  pieces: Piece[];
  /** Compressed payloads: the block's stored bytes are fetched (it lacks some chunk). */
  fetchWhole: boolean;
  /** Bytes the seed (or zero filling) gives this block: they are checked against the block hash before it goes on. */
  seedBytes: number;
}

export interface DeltaPlan {
  blocks: BlockPlan[];
  /** Payload ranges to fetch, in order, non-overlapping (what open() is asked for). */
  ranges: Array<{ start: number; end: number }>;
  bytesFromSeed: number;
  bytesToFetch: number;
}

export interface PlanInput {
  manifest: Pick<PayloadManifest, 'imageSize' | 'blockSize' | 'blockCount' | 'compression'>;
  table: BlockTable;
  index: ChunkIndex;
  seedOffsets: SeedOffsets;
  /** Per chunk, 1 when its hash occurs more than once (ChunkLookup.repeated); else worked out here. */
  repeated?: Uint8Array;
  dataOffset: number;
  firstBlock: number;
}

/** The first chunk that ends after `offset` (binary search over the chunk starts). */
function chunkAt(index: ChunkIndex, offset: number): number {
  let lo = 0;
  let hi = index.count - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((index.starts[mid + 1] ?? 0) <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Appends a piece, merging it into the previous one when both are fetched, or both seed bytes that follow on. */
function addPiece(pieces: Piece[], piece: Piece): void {
  const last = pieces.at(-1);
  const follows = last && (last.seedOffset < 0 ? piece.seedOffset === last.seedOffset : piece.seedOffset === last.seedOffset + last.length);
  if (last && follows) last.length += piece.length;
  else pieces.push(piece);
}

function addRange(ranges: DeltaPlan['ranges'], start: number, end: number): void {
  const last = ranges.at(-1);
  if (last && start - last.end < MERGE_GAP_BYTES) last.end = end;
  else ranges.push({ start, end });
}

/**
 * Knows the chunk hash of all-zero chunks of each length met. Only chunks whose hash occurs more than
 * once in the image are looked at (free space repeats): hashing zeros for every chunk length that
 * occurs would cost a SHA-256 of the whole image under FastCDC (0.5 s per GiB); an all-zero chunk that
 * occurs once is copied or fetched like any other (64 KiB at most).
 */
class ZeroChunks {
  private readonly hashes = new Map<number, Buffer>();
  constructor(private readonly repeated: Uint8Array) {}
  is(index: ChunkIndex, c: number): boolean {
    if (this.repeated[c] !== 1) return false;
    const length = (index.starts[c + 1] ?? 0) - (index.starts[c] ?? 0);
    let hash = this.hashes.get(length);
    if (!hash) this.hashes.set(length, (hash = chunkHash(Buffer.alloc(length))));
    return hash.equals(indexHash(index, c));
  }
}

/**
 * Where chunk `c`'s byte `from - cStart` comes from: zeros (even when the seed has them: the seed's
 * first zero chunk would break up reads of the runs around it), the seed, or the payload.
 */
function sourceOf(p: PlanInput, zeros: ZeroChunks, c: number, skip: number): number {
  if (zeros.is(p.index, c)) return ZEROS;
  const seed = p.seedOffsets[c] ?? -1;
  return seed >= 0 ? seed + skip : FETCHED;
}

/** The pieces of block `b` (its image bytes cut where chunks begin and end). */
function piecesOf(p: PlanInput, zeros: ZeroChunks, b: number, firstChunk: number): { pieces: Piece[]; nextChunk: number } {
  const start = b * p.manifest.blockSize;
  const end = start + imageBlockLength(p.manifest, b);
  const pieces: Piece[] = [];
  let c = firstChunk;
  for (; c < p.index.count; c++) {
    const cStart = p.index.starts[c] ?? 0;
    const cEnd = p.index.starts[c + 1] ?? 0;
    const from = Math.max(start, cStart);
    const to = Math.min(end, cEnd);
    addPiece(pieces, { at: from - start, length: to - from, seedOffset: sourceOf(p, zeros, c, from - cStart) });
    if (cEnd >= end) break; // this chunk may reach into the next block too
  }
  return { pieces, nextChunk: (p.index.starts[c + 1] ?? 0) > end ? c : c + 1 };
}

export function planDelta(p: PlanInput): DeltaPlan {
  const blocks: BlockPlan[] = [];
  const ranges: DeltaPlan['ranges'] = [];
  let bytesFromSeed = 0;
  const zeros = new ZeroChunks(p.repeated ?? new ChunkLookup(p.index).repeated);
  let chunk = p.firstBlock < p.manifest.blockCount ? chunkAt(p.index, p.firstBlock * p.manifest.blockSize) : p.index.count;
  for (let b = p.firstBlock; b < p.manifest.blockCount; b++) {
    const cut = piecesOf(p, zeros, b, chunk);
    chunk = cut.nextChunk;
    const missing = cut.pieces.some((x) => x.seedOffset === FETCHED);
    if (missing && p.manifest.compression !== 'none') {
      const stored = p.dataOffset + (p.table.storedOffsets[b] ?? 0);
      addRange(ranges, stored, stored + (p.table.storedLengths[b] ?? 0));
      blocks.push({ index: b, pieces: [], fetchWhole: true, seedBytes: 0 });
      continue;
    }
    let seedBytes = 0;
    const blockStart = p.dataOffset + b * p.manifest.blockSize;
    for (const x of cut.pieces) {
      if (x.seedOffset === FETCHED) addRange(ranges, blockStart + x.at, blockStart + x.at + x.length);
      else seedBytes += x.length;
    }
    bytesFromSeed += seedBytes;
    blocks.push({ index: b, pieces: cut.pieces, fetchWhole: false, seedBytes });
  }
  return { blocks, ranges, bytesFromSeed, bytesToFetch: ranges.reduce((n, r) => n + r.end - r.start, 0) };
}
