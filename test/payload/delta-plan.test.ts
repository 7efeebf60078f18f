// The delta plan on a hand-made index: which bytes of each block come from the seed, from zeros or
// from the payload, a chunk that straddles two blocks, coalescing, and whole blocks when compressed.

import { describe, expect, it } from 'vitest';
import { decodeBlockTable, encodeBlockTable } from '../../src/payload/block-table.ts';
import { chunkHash, decodeChunkIndex, encodeChunkIndex } from '../../src/payload/chunk-index.ts';
import { FETCHED, MERGE_GAP_BYTES, planDelta, ZEROS } from '../../src/payload/delta-plan.ts';
import type { PayloadManifest } from '../../src/payload/manifest.ts';
import { seededBytes } from './helpers.ts';

const BLOCK = 65536;

/** An image of 3 blocks cut into chunks of these lengths; chunk 2 is all zeros, and chunk 4 when there is one. */
function setUp(lengths: number[], compression: PayloadManifest['compression'] = 'none') {
  const image = seededBytes(3 * BLOCK, 3);
  const starts = [0];
  for (const n of lengths) starts.push((starts.at(-1) ?? 0) + n);
  image.fill(0, starts[2], starts[3]);
  if (lengths.length > 4) image.fill(0, starts[4], starts[5]);
  const chunks = lengths.map((_, i) => image.subarray(starts[i], starts[i + 1]));
  const index = decodeChunkIndex(
    encodeChunkIndex(
      chunks.map((c) => chunkHash(c)),
      lengths,
    ),
    { chunkCount: lengths.length, imageSize: image.byteLength },
  );
  const manifest = { imageSize: image.byteLength, blockSize: BLOCK, blockCount: 3, compression } as PayloadManifest;
  const stored = compression === 'none' ? [BLOCK, BLOCK, BLOCK] : [1000, 2000, 3000];
  const table = decodeBlockTable(
    encodeBlockTable(
      [0, 1, 2].map(() => Buffer.alloc(32)),
      stored,
    ),
    manifest,
  );
  return { manifest, index, table };
}

describe('planDelta', () => {
  // Chunks: [0, 40000) [40000, 90000) straddles blocks 0 and 1, [90000, 100000) zeros, the rest but the
  // last 10000 bytes, which are zeros too (all-zero chunks are known by their hash occurring more than once).
  const lengths = [40000, 50000, 10000, 3 * BLOCK - 110000, 10000];

  it('copies found chunks, fills zero chunks, fetches the rest, and a straddling chunk serves both blocks', () => {
    const { manifest, index, table } = setUp(lengths);
    const seedOffsets = Float64Array.from([500_000, -1, -1, 7000, -1]);
    const plan = planDelta({ manifest, table, index, seedOffsets, dataOffset: 10_000, firstBlock: 0 });
    expect(plan.blocks.map((b) => b.pieces)).toEqual([
      [
        { at: 0, length: 40000, seedOffset: 500_000 },
        { at: 40000, length: BLOCK - 40000, seedOffset: FETCHED },
      ],
      [
        { at: 0, length: 90000 - BLOCK, seedOffset: FETCHED },
        { at: 90000 - BLOCK, length: 10000, seedOffset: ZEROS },
        { at: 100000 - BLOCK, length: 2 * BLOCK - 100000, seedOffset: 7000 },
      ],
      [
        { at: 0, length: BLOCK - 10000, seedOffset: 7000 + 2 * BLOCK - 100000 },
        { at: BLOCK - 10000, length: 10000, seedOffset: ZEROS },
      ],
    ]);
    // The fetched chunk's two pieces are adjacent in the payload: one range.
    expect(plan.ranges).toEqual([{ start: 10_000 + 40000, end: 10_000 + 90000 }]);
    expect(plan.bytesToFetch).toBe(50000);
    expect(plan.bytesFromSeed).toBe(3 * BLOCK - 50000);
  });

  it('plans only the blocks from the resume point, and merges ranges closer than the gap', () => {
    const { manifest, index, table } = setUp(lengths);
    const plan = planDelta({ manifest, table, index, seedOffsets: Float64Array.from([-1, -1, -1, -1, -1]), dataOffset: 0, firstBlock: 1 });
    expect(plan.blocks.map((b) => b.index)).toEqual([1, 2]);
    // [65536, 90000) fetched, zeros, then [100000, end - 10000): 10000 bytes apart < MERGE_GAP_BYTES -> one range.
    expect(MERGE_GAP_BYTES).toBeGreaterThan(10000);
    expect(plan.ranges).toEqual([{ start: BLOCK, end: 3 * BLOCK - 10000 }]);
  });

  it('fetches a compressed block whole when it misses a chunk', () => {
    const { manifest, index, table } = setUp(lengths, 'gzip');
    const plan = planDelta({ manifest, table, index, seedOffsets: Float64Array.from([500_000, 0, -1, 7000, -1]), dataOffset: 100, firstBlock: 0 });
    expect(plan.blocks.map((b) => b.fetchWhole)).toEqual([false, false, false]);
    const missing = planDelta({ manifest, table, index, seedOffsets: Float64Array.from([500_000, -1, -1, 7000, -1]), dataOffset: 100, firstBlock: 0 });
    expect(missing.blocks.map((b) => b.fetchWhole)).toEqual([true, true, false]);
    expect(missing.ranges).toEqual([{ start: 100, end: 100 + 1000 + 2000 }]);
  });

  it('fetches an all-zero chunk that occurs once, like any chunk the seed lacks', () => {
    const { manifest, index, table } = setUp([40000, 50000, 10000, 3 * BLOCK - 100000]);
    const plan = planDelta({ manifest, table, index, seedOffsets: Float64Array.from([-1, -1, -1, -1]), dataOffset: 0, firstBlock: 0 });
    expect(plan.blocks.flatMap((b) => b.pieces).some((x) => x.seedOffset === ZEROS)).toBe(false);
    expect(plan.bytesToFetch).toBe(3 * BLOCK);
  });
});
