// indexSeed: a seed that shares nothing with the new image is given up after SEED_PROBE_BYTES (a whole
// new image costs a 64 MiB look, not a read of the whole booted slot); a related seed is read on.

import { describe, expect, it } from 'vitest';
import { ChunkIndexBuilder, decodeChunkIndex } from '../../src/payload/chunk-index.ts';
import { indexSeed, SEED_PROBE_BYTES } from '../../src/payload/delta-index.ts';
import { PacedSeed, type SeedSource } from '../../src/payload/seed-source.ts';
import { seededBytes } from './helpers.ts';

const MiB = 1024 * 1024;

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

function indexOf(image: Buffer) {
  const builder = new ChunkIndexBuilder('fixed-4k');
  builder.push(image);
  const { bytes, count } = builder.finish();
  return decodeChunkIndex(bytes, { chunkCount: count, imageSize: image.byteLength });
}

/** Indexes `old` as the seed for `image`: the offsets found, where it was given up, what it read. */
async function indexAgainst(image: Buffer, old: Buffer) {
  const seed = countingSeed(old);
  let unrelatedAt: number | undefined;
  const offsets = await indexSeed({
    seed: new PacedSeed(seed, 0),
    scheme: 'fixed-4k',
    index: indexOf(image),
    signal: new AbortController().signal,
    onUnrelated: (n) => (unrelatedAt = n),
  });
  return { offsets, unrelatedAt, bytesRead: seed.bytesRead };
}

describe('indexSeed', () => {
  const size = SEED_PROBE_BYTES + 32 * MiB;
  const image = seededBytes(size, 1);

  it('gives an unrelated seed up after the probe, having found nothing', async () => {
    const { offsets, unrelatedAt, bytesRead } = await indexAgainst(image, seededBytes(size, 2));
    expect(unrelatedAt).toBe(SEED_PROBE_BYTES);
    expect(bytesRead).toBeLessThan(size);
    // Nothing found but the all-zero piece (both images have zero runs; one offset serves them all).
    expect(new Set([...offsets].filter((o) => o !== -1)).size).toBeLessThanOrEqual(1);
  });

  it('reads a related seed to its end: the chunks past the probe are found too', async () => {
    // The old image: the new one with its first MiB changed, so not every chunk is found early.
    const old = Buffer.from(image);
    seededBytes(MiB, 3).copy(old, 0);
    const { offsets, unrelatedAt, bytesRead } = await indexAgainst(image, old);
    expect(unrelatedAt).toBeUndefined();
    expect(bytesRead).toBe(size);
    const last = offsets.length - 1;
    expect(offsets[last]).toBe(last * 4096);
    expect(offsets[0]).toBe(-1);
  });
});
