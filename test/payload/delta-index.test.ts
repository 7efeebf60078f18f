// indexSeed: a large seed that shares nothing with the new image is given up after its samples (a whole
// new image costs a 4 MiB look, not a read of the whole booted slot); a related seed is read on, also
// one that shares only its end with the new image. ChunkLookup finds chunks by hash, duplicates
// by their first chunk.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkIndexBuilder, chunkHash, decodeChunkIndex } from '../../src/payload/chunk-index.ts';
import {
  ChunkLookup,
  countInIndex,
  indexSeed,
  noSeed,
  SAMPLE_WINDOW_BYTES,
  SAMPLE_WINDOWS,
  SAMPLED_SEED_BYTES,
  sampleSeed,
  zeroChunkBytes,
} from '../../src/payload/delta-index.ts';
import type { ChunkScheme } from '../../src/payload/manifest.ts';
import { PacedSeed, type SeedSource } from '../../src/payload/seed-source.ts';
import { seededBytes } from './helpers.ts';

const MiB = 1024 * 1024;
const SAMPLED = SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES;

/** A seed in memory that counts the bytes read from it. */
function countingSeed(bytes: Buffer): SeedSource & { bytesRead: number } {
  return {
    description: 'memory',
    sizeBytes: bytes.byteLength,
    bytesRead: 0,
    async read(buffer, offset) {
      const n = Math.max(0, Math.min(buffer.byteLength, bytes.byteLength - offset));
      buffer.set(bytes.subarray(offset, offset + n));
      this.bytesRead += n;
      return n;
    },
  };
}

function indexOf(image: Buffer, scheme: ChunkScheme) {
  const builder = new ChunkIndexBuilder(scheme);
  builder.push(image);
  const { bytes, count } = builder.finish();
  return decodeChunkIndex(bytes, { chunkCount: count, imageSize: image.byteLength });
}

/** Samples `old` as the seed for `image`, then indexes it unless given up (as a delta pass does): the offsets found, where it was given up, what it read. */
async function indexAgainst(image: Buffer, old: Buffer, scheme: ChunkScheme) {
  const seed = countingSeed(old);
  const o = { seed: new PacedSeed(seed, 0), scheme, index: indexOf(image, scheme), signal: new AbortController().signal };
  const unrelatedAt = await sampleSeed(o);
  const offsets = unrelatedAt === undefined ? await indexSeed(o) : noSeed(o.index);
  return { offsets, unrelatedAt, bytesRead: seed.bytesRead };
}

const found = (offsets: Float64Array) => offsets.filter((o) => o >= 0).length;

describe.each<ChunkScheme>(['fixed-4k', 'fastcdc-4k-16k-64k'])('indexSeed (%s)', (scheme) => {
  const size = SAMPLED_SEED_BYTES + 32 * MiB;
  const image = seededBytes(size, 1);

  it('gives an unrelated seed up after its samples, having found nothing', async () => {
    const { offsets, unrelatedAt, bytesRead } = await indexAgainst(image, seededBytes(size, 2), scheme);
    expect(unrelatedAt).toBe(SAMPLED);
    expect(bytesRead).toBe(SAMPLED);
    expect(found(offsets)).toBe(0);
  });

  it('reads a related seed to its end: the chunks past the samples are found too', async () => {
    // The old image: the new one with its first MiB changed, so not every chunk is found early.
    const old = Buffer.from(image);
    seededBytes(MiB, 3).copy(old, 0);
    const { offsets, unrelatedAt, bytesRead } = await indexAgainst(image, old, scheme);
    expect(unrelatedAt).toBeUndefined();
    // The samples, then the whole seed.
    expect(bytesRead).toBe(SAMPLED + size);
    expect(offsets[0]).toBe(-1);
    expect(found(offsets)).toBeGreaterThan(offsets.length * 0.9);
  });

  it('reads a seed that shares only its last quarter with the new image', async () => {
    const old = seededBytes(size, 4);
    image.copy(old, (size * 3) / 4, (size * 3) / 4);
    const { offsets, unrelatedAt, bytesRead } = await indexAgainst(image, old, scheme);
    expect(unrelatedAt).toBeUndefined();
    expect(bytesRead).toBe(SAMPLED + size);
    expect(found(offsets)).toBeGreaterThan(offsets.length * 0.2);
    expect(offsets[0]).toBe(-1);
  });
});

describe('ChunkLookup', () => {
  it('finds each chunk by its hash, equal chunks by the first of them, and not a hash absent', () => {
    // Chunks 0 and 2 are equal, as are 1 and 3; 4 is alone.
    const a = seededBytes(4096, 5);
    const b = seededBytes(4096, 6);
    const image = Buffer.concat([a, b, a, b, seededBytes(4096, 7)]);
    const lookup = new ChunkLookup(indexOf(image, 'fixed-4k'));
    expect(lookup.distinct).toBe(3);
    expect([...lookup.firstOf]).toEqual([0, 1, 0, 1, 4]);
    expect(lookup.find(chunkHash(b))).toBe(1);
    expect(lookup.find(chunkHash(image.subarray(16384)))).toBe(4);
    expect(lookup.find(chunkHash(seededBytes(4096, 8)))).toBeLessThan(0);
  });
});

describe('countInIndex and zeroChunkBytes (one pass over the index bytes)', () => {
  it('counts the hashes that are chunks of the index, a hash given twice twice', () => {
    const image = seededBytes(64 * 4096, 10);
    const index = indexOf(image, 'fixed-4k');
    const inside = [chunkHash(image.subarray(0, 4096)), chunkHash(image.subarray(63 * 4096)), chunkHash(image.subarray(0, 4096))];
    const outside = [chunkHash(seededBytes(4096, 11)), chunkHash(image.subarray(1, 4097))];
    expect(countInIndex(index, [...inside, ...outside])).toBe(3);
    expect(countInIndex(index, [])).toBe(0);
  });

  it.each<ChunkScheme>(['fixed-4k', 'fastcdc-4k-16k-64k'])('finds the bytes of all-zero chunks a run of zeros is cut into (%s)', (scheme) => {
    const data = randomBytes(2 * MiB); // seededBytes has runs of zeros of its own
    const image = Buffer.concat([data.subarray(0, MiB), Buffer.alloc(3 * MiB), data.subarray(MiB)]);
    const zeros = zeroChunkBytes(indexOf(image, scheme), scheme);
    // The zero run's chunks, but for the pieces where it meets the data on either side.
    expect(zeros).toBeGreaterThan(3 * MiB - 2 * 65536);
    expect(zeros).toBeLessThanOrEqual(3 * MiB);
    expect(zeroChunkBytes(indexOf(data, scheme), scheme)).toBe(0);
  });
});
