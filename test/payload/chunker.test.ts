// The content-defined chunker: same cuts whatever the buffer sizes, bounds kept, and cuts that
// resynchronise after an insertion (the property delta updates rely on).

import { randomBytes, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Chunker, chunkLengths, type ChunkSizes } from '../../src/payload/chunker.ts';

const SMALL: ChunkSizes = { minBytes: 1024, avgBytes: 4096, maxBytes: 16384 };

/** Deterministic bytes from a seed (SHA-256 in counter mode). */
function seededBytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, n = 0; at < length; n++) {
    const block = createHash('sha256').update(`${seed}:${n}`).digest();
    at += block.copy(out, at);
  }
  return out;
}

function cutOffsets(lengths: number[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const length of lengths) out.push((at += length));
  return out;
}

describe('Chunker', () => {
  it.each([
    ['small', SMALL],
    ['tiny (cuts often right after the minimum)', { minBytes: 64, avgBytes: 128, maxBytes: 1024 }],
  ])('cuts the same chunks whatever sizes the input arrives in (%s)', (_name, sizes) => {
    const data = randomBytes(600_000);
    const whole = chunkLengths(data, sizes);
    for (const piece of [1, 7, 31, 32, 33, 1000, 4096, 65_537]) {
      const chunker = new Chunker(sizes);
      const lengths: number[] = [];
      for (let at = 0; at < data.length; at += piece) lengths.push(...chunker.push(data.subarray(at, at + piece)));
      const last = chunker.finish();
      if (last !== undefined) lengths.push(last);
      expect(lengths, `pieces of ${piece}`).toEqual(whole);
    }
  });

  it('keeps every chunk but the last within min and max, and loses no byte', () => {
    const data = randomBytes(2_000_000);
    const lengths = chunkLengths(data, SMALL);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(SMALL.minBytes);
      expect(length).toBeLessThanOrEqual(SMALL.maxBytes);
    }
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(SMALL.avgBytes * 0.6);
    expect(mean).toBeLessThan(SMALL.avgBytes * 1.6);
  });

  it('cuts at max on input without any cut point (all zeros)', () => {
    const lengths = chunkLengths(Buffer.alloc(100_000), SMALL);
    expect(lengths.slice(0, -1).every((l) => l === SMALL.maxBytes)).toBe(true);
  });

  it('finds the same cut points again after bytes are inserted near the start', () => {
    const data = seededBytes(1_000_000, 'resync');
    const shifted = Buffer.concat([data.subarray(0, 5000), Buffer.from('seventeen bytes!!'), data.subarray(5000)]);
    const before = new Set(cutOffsets(chunkLengths(data, SMALL)));
    const after = cutOffsets(chunkLengths(shifted, SMALL)).map((o) => o - 17);
    const shared = after.filter((o) => before.has(o)).length;
    expect(shared / before.size).toBeGreaterThan(0.95);
  });

  it('gives the same cuts as when the format was fixed (the gear table is part of the format)', () => {
    const lengths = chunkLengths(seededBytes(200_000, 'format'), SMALL);
    const digest = createHash('sha256').update(lengths.join(',')).digest('hex').slice(0, 16);
    expect({ count: lengths.length, digest }).toMatchInlineSnapshot(`
      {
        "count": 43,
        "digest": "70c7c6f54c96091a",
      }
    `);
  });

  it('refuses sizes that are out of order or not a power of two on average', () => {
    expect(() => new Chunker({ minBytes: 4096, avgBytes: 4096, maxBytes: 8192 })).toThrow(/min < avg < max/);
    expect(() => new Chunker({ minBytes: 1024, avgBytes: 5000, maxBytes: 8192 })).toThrow(/power of two/);
    expect(() => new Chunker({ minBytes: 10, avgBytes: 4096, maxBytes: 8192 })).toThrow(/64 <= min/);
  });
});
