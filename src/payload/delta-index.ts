// Indexing the seed for a delta apply: the seed (the booted slot) is read in 4 MiB pieces under
// IO_READ_BPS, cut with the payload's chunk scheme, and each piece's 16-byte hash looked up among the
// NEW image's chunks: where a chunk's bytes are found, its seed offset is recorded. Memory is bounded
// by the new index (an open-addressing table of 8 to 16 bytes per chunk over the index's own bytes),
// whatever the seed's size. Reading stops early once every chunk was found.
// Before that, the caller samples a large seed (sampleSeed): 16 windows of 256 KiB spread over it. A
// seed in which the samples find (almost) none of the new image's chunks (another OS build, a blank
// slot, a random image) is given up after those 4 MiB, not read and hashed whole: a full image change
// costs a look.

import { CHUNK_HASH_BYTES, CHUNK_RECORD_BYTES, chunkHash, ChunkSplitter, cutterFor, type ChunkIndex } from './chunk-index.ts';
import type { ChunkScheme } from './manifest.ts';
import type { PacedSeed } from './seed-source.ts';

export const SEED_READ_BYTES = 4 * 1024 * 1024;
/**
 * Seeds larger than this are sampled first: SAMPLE_WINDOWS windows of SAMPLE_WINDOW_BYTES, evenly
 * spread. When fewer than 1 piece in UNRELATED_RATIO of the samples is one of the new image's chunks,
 * the seed is taken as unrelated. (A smaller seed is read whole: it costs little.)
 */
export const SAMPLED_SEED_BYTES = 64 * 1024 * 1024;
export const SAMPLE_WINDOWS = 16;
export const SAMPLE_WINDOW_BYTES = 256 * 1024;
const UNRELATED_RATIO = 100;
/** Zeros to compare pieces with (a piece is at most 64 KiB under both schemes). */
const ZEROS = Buffer.alloc(64 * 1024);
const allZero = (bytes: Uint8Array): boolean => bytes.byteLength <= ZEROS.byteLength && ZEROS.compare(bytes, 0, bytes.byteLength, 0, bytes.byteLength) === 0;

/** Per chunk of the new image, the seed offset of the same bytes, or -1 when the seed lacks them. */
export type SeedOffsets = Float64Array;

/**
 * The new image's chunks by hash: open addressing over the index bytes themselves (a chunk hash is a
 * SHA-256 prefix, so its first 4 bytes spread evenly). Chunks with equal hashes share the first one's number.
 */
export class ChunkLookup {
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** Per chunk, the number of the first chunk with the same hash. */
  readonly firstOf: Int32Array;
  /** Per chunk, 1 when its hash occurs more than once in the image. */
  readonly repeated: Uint8Array;
  /** Distinct hashes. */
  readonly distinct: number;

  constructor(private readonly index: ChunkIndex) {
    let size = 2;
    while (size < index.count * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.firstOf = new Int32Array(index.count);
    this.repeated = new Uint8Array(index.count);
    let distinct = 0;
    for (let i = 0; i < index.count; i++) {
      const at = i * CHUNK_RECORD_BYTES;
      const found = this.find(index.bytes, at);
      if (found >= 0) {
        this.firstOf[i] = found;
        this.repeated[i] = 1;
        this.repeated[found] = 1;
        continue;
      }
      this.slots[-found - 1] = i + 1;
      this.firstOf[i] = i;
      distinct++;
    }
    this.distinct = distinct;
  }

  /** The first chunk whose hash is the 16 bytes of `hash` at `at`; else -(free slot + 1). */
  find(hash: Buffer, at = 0): number {
    const { bytes } = this.index;
    for (let s = hash.readUInt32LE(at) & this.mask; ; s = (s + 1) & this.mask) {
      const entry = this.slots[s] ?? 0;
      if (entry === 0) return -(s + 1);
      const c = entry - 1;
      const record = c * CHUNK_RECORD_BYTES;
      if (hash.compare(bytes, record, record + 16, at, at + 16) === 0) return c;
    }
  }
}

export interface IndexSeedOptions extends SampleOptions {
  /** The index's lookup, when the caller has one already. */
  lookup?: ChunkLookup;
  /** Called after each read with the seed bytes read so far. */
  onProgress?(bytesRead: number): void;
}

/** The samples of a large seed: how many pieces, the hashes of those not all zeros, the bytes read. */
interface Samples {
  pieces: number;
  hashes: Buffer[];
  bytesRead: number;
}

async function takeSamples(o: SampleOptions, buffer: Buffer): Promise<Samples | undefined> {
  const size = o.seed.seed.sizeBytes;
  if (size <= SAMPLED_SEED_BYTES) return undefined;
  const stride = Math.floor(size / SAMPLE_WINDOWS / 4096) * 4096;
  const samples: Samples = { pieces: 0, hashes: [], bytesRead: 0 };
  for (let w = 0; w < SAMPLE_WINDOWS; w++) {
    const offset = w * stride;
    const n = await o.seed.readUpTo(buffer.subarray(0, Math.min(SAMPLE_WINDOW_BYTES, size - offset)), offset, o.signal);
    samples.bytesRead += n;
    // A content-defined cut is found again after the first cut: the window's first piece is not a chunk
    // (its last piece is not cut either: finish() is not called). Fixed pieces start at multiples of 4 KiB.
    let skip = offset > 0 && o.scheme !== 'fixed-4k';
    new ChunkSplitter(o.scheme, (bytes) => {
      if (skip) skip = false;
      else {
        samples.pieces++;
        // All-zero pieces say nothing about how related the seed is (the apply fills them in memory anyway).
        if (!allZero(bytes)) samples.hashes.push(chunkHash(bytes));
      }
    }).push(buffer.subarray(0, n));
  }
  return samples;
}

/** The samples' verdict: the bytes read when (almost) none of their pieces is a chunk of the new image, else undefined. */
const unrelatedAfter = (samples: Samples, related: number): number | undefined => (related * UNRELATED_RATIO < samples.pieces ? samples.bytesRead : undefined);

export interface SampleOptions {
  seed: PacedSeed;
  scheme: ChunkScheme;
  index: ChunkIndex;
  signal: AbortSignal;
}

/**
 * Samples a large seed (over SAMPLED_SEED_BYTES); resolves with the bytes read when it looks unrelated,
 * else undefined (also for a small seed). The samples are looked for in one pass over the index bytes:
 * no lookup of the whole index is built (13 to 21 bytes a chunk) for a seed that may be given up.
 */
export async function sampleSeed(o: SampleOptions): Promise<number | undefined> {
  const samples = await takeSamples(o, Buffer.allocUnsafe(SAMPLE_WINDOW_BYTES));
  return samples && unrelatedAfter(samples, countInIndex(o.index, samples.hashes));
}

/** Prefix of a 16-byte hash at `at` as a small integer (a SHA-256 prefix: evenly spread). */
const prefixOf = (bytes: Buffer, at: number): number => bytes.readUInt32LE(at) & 0x3fffffff;

/** How many of `hashes` are chunks of `index`: one pass over its bytes. */
export function countInIndex(index: ChunkIndex, hashes: readonly Buffer[]): number {
  const byPrefix = new Map<number, number[]>();
  hashes.forEach((h, i) => {
    const k = prefixOf(h, 0);
    const list = byPrefix.get(k);
    if (list) list.push(i);
    else byPrefix.set(k, [i]);
  });
  const found = new Uint8Array(hashes.length);
  for (let c = 0; c < index.count; c++) {
    const at = c * CHUNK_RECORD_BYTES;
    const candidates = byPrefix.get(prefixOf(index.bytes, at));
    if (!candidates) continue;
    for (const i of candidates) if ((hashes[i] as Buffer).compare(index.bytes, at, at + CHUNK_HASH_BYTES, 0, CHUNK_HASH_BYTES) === 0) found[i] = 1;
  }
  return found.reduce((n, f) => n + f, 0);
}

export async function indexSeed(o: IndexSeedOptions): Promise<SeedOffsets> {
  const lookup = o.lookup ?? new ChunkLookup(o.index);
  // Two buffers: the next piece is read while the current one is cut and hashed.
  const buffers = [Buffer.allocUnsafe(SEED_READ_BYTES), Buffer.allocUnsafe(SEED_READ_BYTES)];
  /** By the number of the first chunk with a hash: where the seed has its bytes. */
  const seedOffsetOf = new Float64Array(o.index.count).fill(-1);
  let missing = lookup.distinct;
  let at = 0;
  const splitter = new ChunkSplitter(o.scheme, (bytes) => {
    const c = lookup.find(chunkHash(bytes));
    if (c >= 0 && seedOffsetOf[c] === -1) {
      seedOffsetOf[c] = at;
      missing--;
    }
    at += bytes.byteLength;
  });
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
  }
  await reading.catch(() => undefined); // a read started before every chunk was found
  if (missing > 0) splitter.finish();
  const offsets = new Float64Array(o.index.count);
  for (let i = 0; i < o.index.count; i++) offsets[i] = seedOffsetOf[lookup.firstOf[i] ?? i] ?? -1;
  return offsets;
}

/**
 * Image bytes in all-zero chunks of the lengths a run of zeros is cut into (what a delta fills in memory
 * instead of fetching, when the seed has nothing else to give): one pass over the index bytes.
 */
export function zeroChunkBytes(index: ChunkIndex, scheme: ChunkScheme): number {
  const zeros = new Map<number, { length: number; hash: Buffer }>();
  for (const length of new Set(cutterFor(scheme).push(new Uint8Array(1 << 20)))) {
    const hash = chunkHash(Buffer.alloc(length));
    zeros.set(prefixOf(hash, 0), { length, hash });
  }
  let bytes = 0;
  for (let c = 0; c < index.count; c++) {
    const at = c * CHUNK_RECORD_BYTES;
    const zero = zeros.get(prefixOf(index.bytes, at));
    if (!zero || index.bytes.readUInt32BE(at + CHUNK_HASH_BYTES) !== zero.length) continue;
    if (zero.hash.compare(index.bytes, at, at + CHUNK_HASH_BYTES, 0, CHUNK_HASH_BYTES) === 0) bytes += zero.length;
  }
  return bytes;
}

/** A seed that cannot be used is no reason to fail: the apply fetches what it would have copied. */
export function noSeed(index: ChunkIndex): SeedOffsets {
  return new Float64Array(index.count).fill(-1);
}
