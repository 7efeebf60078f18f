// The chunk index of a formatVersion 2 payload (fourth tar entry): how the image is cut into chunks
// (the manifest's chunkScheme), and per chunk, in image order, the first 16 bytes of the SHA-256 of its
// bytes and its length (big-endian uint32): 20 bytes each. The chunks tile the image from offset 0.
// A chunk hash only says where the same bytes may be found in the machine's booted slot: the block
// table still verifies every block before it is written.

import { createHash } from 'node:crypto';
import { UpdateEngineError } from '../errors.ts';
import { Chunker } from './chunker.ts';
import type { ChunkScheme, PayloadManifest } from './manifest.ts';

export const CHUNK_RECORD_BYTES = 20;
export const CHUNK_HASH_BYTES = 16;
const FIXED_CHUNK_BYTES = 4096;

export interface ChunkIndex {
  readonly count: number;
  /** The records as stored (hashes are read from here). */
  readonly bytes: Buffer;
  /** Image offset of each chunk (count + 1 values; the last is imageSize). */
  readonly starts: Float64Array;
}

/** Cuts a byte stream the way a scheme does: `push` returns the lengths completed, `finish` the last one. */
export interface SchemeCutter {
  push(data: Uint8Array): number[];
  finish(): number | undefined;
}

class FixedCutter implements SchemeCutter {
  private pending = 0;
  push(data: Uint8Array): number[] {
    const cuts: number[] = [];
    let left = data.byteLength;
    while (this.pending + left >= FIXED_CHUNK_BYTES) {
      left -= FIXED_CHUNK_BYTES - this.pending;
      this.pending = 0;
      cuts.push(FIXED_CHUNK_BYTES);
    }
    this.pending += left;
    return cuts;
  }
  finish(): number | undefined {
    const last = this.pending;
    this.pending = 0;
    return last > 0 ? last : undefined;
  }
}

/** A fresh cutter for `scheme` (the FastCDC sizes are part of the scheme's name, and of the format). */
export function cutterFor(scheme: ChunkScheme): SchemeCutter {
  switch (scheme) {
    case 'fixed-4k':
      return new FixedCutter();
    case 'fastcdc-4k-16k-64k':
      return new Chunker({ minBytes: 4096, avgBytes: 16384, maxBytes: 65536 });
  }
}

/** The 16-byte locator of a chunk's bytes. */
export function chunkHash(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, CHUNK_HASH_BYTES);
}

/** Builds the index bytes from chunk hashes (16 bytes each) and lengths. */
export function encodeChunkIndex(hashes: readonly Uint8Array[], lengths: readonly number[]): Buffer {
  const out = Buffer.alloc(hashes.length * CHUNK_RECORD_BYTES);
  hashes.forEach((hash, i) => {
    out.set(hash.subarray(0, CHUNK_HASH_BYTES), i * CHUNK_RECORD_BYTES);
    out.writeUInt32BE(lengths[i] ?? 0, i * CHUNK_RECORD_BYTES + CHUNK_HASH_BYTES);
  });
  return out;
}

/** The index entry size the manifest implies (the tar header must say exactly this). */
export function chunkIndexBytes(m: Pick<PayloadManifest, 'chunkCount'>): number {
  return (m.chunkCount ?? 0) * CHUNK_RECORD_BYTES;
}

/** Decodes index bytes; ERR_PAYLOAD_FORMAT unless the chunks (each 1 byte or more) tile the image exactly. */
export function decodeChunkIndex(bytes: Buffer, m: Pick<PayloadManifest, 'chunkCount' | 'imageSize'>): ChunkIndex {
  const count = m.chunkCount ?? 0;
  if (bytes.byteLength !== count * CHUNK_RECORD_BYTES) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Chunk index is ${bytes.byteLength} bytes, expected ${count * CHUNK_RECORD_BYTES} (${count} chunks)`);
  }
  let total = 0;
  for (let i = 0; i < count; i++) {
    const length = bytes.readUInt32BE(i * CHUNK_RECORD_BYTES + CHUNK_HASH_BYTES);
    if (length === 0) throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Chunk index entry ${i} has a length of 0`);
    total += length;
  }
  if (total !== m.imageSize) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Chunk index covers ${total} bytes, the image has ${m.imageSize}`);
  }
  return new DecodedChunkIndex(count, bytes);
}

/** A checked chunk index; the chunk starts are worked out when first asked for (a full pass never does: 8 bytes a chunk). */
class DecodedChunkIndex implements ChunkIndex {
  private startsOf: Float64Array | undefined;

  constructor(
    readonly count: number,
    readonly bytes: Buffer,
  ) {}

  get starts(): Float64Array {
    if (!this.startsOf) {
      const starts = new Float64Array(this.count + 1);
      for (let i = 0; i < this.count; i++) starts[i + 1] = (starts[i] ?? 0) + this.bytes.readUInt32BE(i * CHUNK_RECORD_BYTES + CHUNK_HASH_BYTES);
      this.startsOf = starts;
    }
    return this.startsOf;
  }
}

/** The stored 16-byte hash of chunk `i` (a view). */
export function indexHash(index: ChunkIndex, i: number): Buffer {
  return index.bytes.subarray(i * CHUNK_RECORD_BYTES, i * CHUNK_RECORD_BYTES + CHUNK_HASH_BYTES);
}

/** Cuts a stream (any buffer sizes) into a scheme's chunks and hands each chunk's bytes on, in order. */
export class ChunkSplitter {
  private readonly cutter: SchemeCutter;
  /** The bytes of the chunk not cut yet (at most one chunk's worth). */
  private carry: Buffer[] = [];
  private carried = 0;

  /** `onChunk` gets a view that is valid only during the call. */
  constructor(
    scheme: ChunkScheme,
    private readonly onChunk: (bytes: Uint8Array) => void,
  ) {
    this.cutter = cutterFor(scheme);
  }

  push(data: Uint8Array): void {
    let at = 0;
    for (const length of this.cutter.push(data)) {
      const take = length - this.carried;
      const piece = this.carried === 0 ? data.subarray(at, at + take) : Buffer.concat([...this.carry, data.subarray(at, at + take)]);
      this.carry = [];
      this.carried = 0;
      this.onChunk(piece);
      at += take;
    }
    if (at < data.byteLength) {
      this.carry.push(Buffer.from(data.subarray(at)));
      this.carried += data.byteLength - at;
    }
  }

  finish(): void {
    if (this.cutter.finish() !== undefined) this.onChunk(Buffer.concat(this.carry));
    this.carry = [];
    this.carried = 0;
  }
}

/** Builds an index while the image streams by, in any buffer sizes. */
export class ChunkIndexBuilder {
  private readonly hashes: Buffer[] = [];
  private readonly lengths: number[] = [];
  private readonly splitter: ChunkSplitter;

  constructor(scheme: ChunkScheme) {
    this.splitter = new ChunkSplitter(scheme, (piece) => {
      this.hashes.push(chunkHash(piece));
      this.lengths.push(piece.byteLength);
    });
  }

  push(data: Uint8Array): void {
    this.splitter.push(data);
  }

  /** The index bytes and the chunk count, once the whole image went through push. */
  finish(): { bytes: Buffer; count: number } {
    this.splitter.finish();
    return { bytes: encodeChunkIndex(this.hashes, this.lengths), count: this.lengths.length };
  }
}

/**
 * The scheme `payload create --chunking auto` picks from the image's first bytes: fixed-4k for a
 * filesystem that keeps data in blocks of 4 KiB or a multiple (ext2/3/4, erofs, btrfs, read from the
 * superblock: a small ext4 often has 1 KiB blocks, whose data 4 KiB pieces would not find), FastCDC
 * for anything else.
 */
export function schemeFromMagic(head: Uint8Array): ChunkScheme {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const fits = (end: number) => buf.byteLength >= end;
  let blockBytes = 0;
  if (fits(1082) && buf.readUInt16LE(1080) === 0xef53) blockBytes = 1024 * 2 ** Math.min(buf.readUInt32LE(1048), 16);
  else if (fits(1037) && buf.readUInt32LE(1024) === 0xe0f5e1e2) blockBytes = 2 ** Math.min(buf.readUInt8(1036), 30);
  else if (fits(0x10094) && buf.toString('latin1', 0x10040, 0x10048) === '_BHRfS_M') blockBytes = buf.readUInt32LE(0x10090);
  return blockBytes >= 4096 && blockBytes % 4096 === 0 ? 'fixed-4k' : 'fastcdc-4k-16k-64k';
}

/** How many bytes schemeFromMagic looks at. */
export const MAGIC_PROBE_BYTES = 0x10094;

/** Checks image bytes, streamed in order in any buffer sizes, against the index's chunk hashes (payload verify). */
export class ChunkIndexChecker {
  private chunk = 0;
  private at = 0;
  private hash = createHash('sha256');

  constructor(private readonly index: ChunkIndex) {}

  push(data: Uint8Array): void {
    let used = 0;
    while (used < data.byteLength) {
      const end = this.index.starts[this.chunk + 1];
      if (end === undefined) throw new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', `The image is longer than the chunk index says`);
      const take = Math.min(data.byteLength - used, end - this.at);
      this.hash.update(data.subarray(used, used + take));
      used += take;
      this.at += take;
      if (this.at === end) this.endChunk();
    }
  }

  private endChunk(): void {
    const digest = this.hash.digest().subarray(0, CHUNK_HASH_BYTES);
    if (!digest.equals(indexHash(this.index, this.chunk))) {
      throw new UpdateEngineError(
        'ERR_PAYLOAD_HASH_MISMATCH',
        `Chunk ${this.chunk} (image offset ${this.index.starts[this.chunk]}) does not match its hash in the chunk index`,
      );
    }
    this.chunk++;
    this.hash = createHash('sha256');
  }

  /** Throws unless every chunk was seen. */
  finish(): void {
    if (this.chunk !== this.index.count)
      throw new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', `The image ends inside chunk ${this.chunk} of ${this.index.count}`);
  }
}
