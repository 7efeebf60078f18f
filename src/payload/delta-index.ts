// Indexing the seed for a delta apply: the seed (the booted slot) is read in 4 MiB pieces under
// IO_READ_BPS, cut with the payload's chunk scheme, and each piece's 16-byte hash looked up among the
// NEW image's chunks: where a chunk's bytes are found, its seed offset is recorded. Memory is bounded
// by the new index (one map entry per distinct chunk), whatever the seed's size. Reading stops early
// once every chunk was found.

import { chunkHash, ChunkSplitter, indexHash, type ChunkIndex } from './chunk-index.ts';
import type { ChunkScheme } from './manifest.ts';
import type { PacedSeed } from './seed-source.ts';

export const SEED_READ_BYTES = 4 * 1024 * 1024;
/**
 * After this much of the seed, a seed in which fewer than 1 piece in UNRELATED_RATIO is one of the new
 * image's chunks is taken as unrelated (another OS build, a blank slot) and not read further: a full
 * image change then costs a 64 MiB look, not a read and hash of the whole booted slot.
 */
export const SEED_PROBE_BYTES = 64 * 1024 * 1024;
const UNRELATED_RATIO = 100;
/** Zeros to compare pieces with (a piece is at most 64 KiB under both schemes). */
const ZEROS = Buffer.alloc(64 * 1024);
/** All-zero pieces say nothing about how related the seed is (the apply fills them in memory anyway). */
const allZero = (bytes: Uint8Array): boolean => bytes.byteLength <= ZEROS.byteLength && ZEROS.compare(bytes, 0, bytes.byteLength, 0, bytes.byteLength) === 0;

/** Per chunk of the new image, the seed offset of the same bytes, or -1 when the seed lacks them. */
export type SeedOffsets = Float64Array;

const key = (hash: Uint8Array): string => Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1');

export interface IndexSeedOptions {
  seed: PacedSeed;
  scheme: ChunkScheme;
  index: ChunkIndex;
  signal: AbortSignal;
  /** Called after each read with the seed bytes read so far. */
  onProgress?(bytesRead: number): void;
  /** Called when the seed is given up as unrelated after `bytesRead` bytes (see SEED_PROBE_BYTES). */
  onUnrelated?(bytesRead: number): void;
}

export async function indexSeed(o: IndexSeedOptions): Promise<SeedOffsets> {
  const found = new Map<string, number>();
  for (let i = 0; i < o.index.count; i++) found.set(key(indexHash(o.index, i)), -1);
  let missing = found.size;
  let at = 0;
  let pieces = 0;
  let related = 0;
  const splitter = new ChunkSplitter(o.scheme, (bytes) => {
    const k = key(chunkHash(bytes));
    const seen = found.get(k);
    if (seen === undefined) pieces++;
    else if (!allZero(bytes)) {
      pieces++;
      related++;
    }
    if (seen === -1) {
      found.set(k, at);
      missing--;
    }
    at += bytes.byteLength;
  });
  // Two buffers: the next piece is read while the current one is cut and hashed.
  const buffers = [Buffer.allocUnsafe(SEED_READ_BYTES), Buffer.allocUnsafe(SEED_READ_BYTES)];
  const size = o.seed.seed.sizeBytes;
  const readAt = (offset: number, buffer: Buffer) => o.seed.readUpTo(buffer.subarray(0, Math.min(SEED_READ_BYTES, size - offset)), offset, o.signal);
  let offset = 0;
  let reading = size > 0 ? readAt(0, buffers[0] as Buffer) : Promise.resolve(0);
  for (let turn = 0; missing > 0; turn++) {
    const n = await reading;
    if (n === 0) break;
    const buffer = buffers[turn % 2] as Buffer;
    offset += n;
    reading = offset < size ? readAt(offset, buffers[(turn + 1) % 2] as Buffer) : Promise.resolve(0);
    splitter.push(buffer.subarray(0, n));
    o.onProgress?.(offset);
    if (offset >= SEED_PROBE_BYTES && related * UNRELATED_RATIO < pieces) {
      o.onUnrelated?.(offset);
      break;
    }
  }
  await reading.catch(() => undefined); // a read started before every chunk was found
  if (missing > 0) splitter.finish();
  const offsets = new Float64Array(o.index.count);
  for (let i = 0; i < o.index.count; i++) offsets[i] = found.get(key(indexHash(o.index, i))) ?? -1;
  return offsets;
}

/** A seed that cannot be used is no reason to fail: the apply fetches what it would have copied. */
export function noSeed(index: ChunkIndex): SeedOffsets {
  return new Float64Array(index.count).fill(-1);
}
