// Content-defined chunking (FastCDC with normalized chunking, Xia et al. 2016) for delta updates:
// cut points depend only on the bytes nearby, so data that moves inside a rebuilt image is still cut
// into the same chunks. Streaming: feed any buffer sizes, the cuts are the same.

/** Chunk size bounds in bytes; casync's defaults are 16 KiB / 64 KiB / 256 KiB. */
export interface ChunkSizes {
  minBytes: number;
  avgBytes: number;
  maxBytes: number;
}

export const DEFAULT_CHUNK_SIZES: ChunkSizes = { minBytes: 16 * 1024, avgBytes: 64 * 1024, maxBytes: 256 * 1024 };

/** 256 fixed pseudo-random 32-bit values (a splitmix32 sequence); part of the format: never change. */
const GEAR = (() => {
  const table = new Uint32Array(256);
  let state = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    table[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return table;
})();

/** A mask of `bits` ones in the high bits of 32 (the bits that depend on the most recent 32 bytes). */
function highMask(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function checkChunkSizes(sizes: ChunkSizes): void {
  const { minBytes, avgBytes, maxBytes } = sizes;
  const ok = Number.isInteger(minBytes) && Number.isInteger(avgBytes) && Number.isInteger(maxBytes);
  if (!ok || minBytes < 64 || !(minBytes < avgBytes && avgBytes < maxBytes) || (avgBytes & (avgBytes - 1)) !== 0) {
    throw new RangeError(`Chunk sizes must be whole numbers with 64 <= min < avg < max and avg a power of two (got ${minBytes}/${avgBytes}/${maxBytes})`);
  }
}

/**
 * Cuts a byte stream into content-defined chunks. `push` returns the lengths of the chunks completed
 * by this buffer; `finish` returns the length of the last, partial chunk (or nothing).
 */
export class Chunker {
  private readonly minBytes: number;
  private readonly avgBytes: number;
  private readonly maxBytes: number;
  private readonly maskSmall: number;
  private readonly maskLarge: number;
  private hash = 0;
  private length = 0;

  constructor(sizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
    checkChunkSizes(sizes);
    this.minBytes = sizes.minBytes;
    this.avgBytes = sizes.avgBytes;
    this.maxBytes = sizes.maxBytes;
    const bits = Math.log2(sizes.avgBytes);
    // Normalized chunking level 2: harder to cut before the average size, easier after it.
    this.maskSmall = highMask(bits + 2);
    this.maskLarge = highMask(bits - 2);
  }

  push(data: Uint8Array): number[] {
    const cuts: number[] = [];
    let { hash, length } = this;
    const { minBytes, avgBytes, maxBytes, maskSmall, maskLarge } = this;
    let i = 0;
    const end = data.length;
    while (i < end) {
      if (length < minBytes) {
        // Bytes before the minimum size cannot end a chunk; the hash only needs the last 32 of them.
        const skip = Math.min(minBytes - length, end - i);
        const warm = Math.max(i, i + skip - 32);
        for (let j = warm; j < i + skip; j++) hash = ((hash << 1) + GEAR[data[j]!]!) >>> 0;
        i += skip;
        length += skip;
        continue;
      }
      const mask = length < avgBytes ? maskSmall : maskLarge;
      hash = ((hash << 1) + GEAR[data[i]!]!) >>> 0;
      i++;
      length++;
      if ((hash & mask) === 0 || length >= maxBytes) {
        cuts.push(length);
        length = 0;
        hash = 0;
      }
    }
    this.hash = hash;
    this.length = length;
    return cuts;
  }

  finish(): number | undefined {
    const last = this.length;
    this.length = 0;
    this.hash = 0;
    return last > 0 ? last : undefined;
  }
}

/** The chunk lengths of a whole buffer (for tests and small inputs). */
export function chunkLengths(data: Uint8Array, sizes: ChunkSizes = DEFAULT_CHUNK_SIZES): number[] {
  const chunker = new Chunker(sizes);
  const out = chunker.push(data);
  const last = chunker.finish();
  if (last !== undefined) out.push(last);
  return out;
}
