// The piece schemes the delta decision compares, each answering "how many bytes of the new image must
// be fetched when the machine holds the old one": fixed blocks at the same offset, fixed 4 KiB blocks
// matched by content anywhere in the old image, and content-defined chunks (FastCDC) at two sizes.
// Bytes are counted raw and, for what must be fetched, gzip-compressed chunk by chunk (as a payload
// with --compression gzip stores them).

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Chunker, type ChunkSizes } from '../../src/payload/chunker.ts';

export interface SchemeResult {
  scheme: string;
  pieces: number;
  fetchBytes: number;
  fetchCompressedBytes: number;
  /** Bytes of the index a payload would carry for it (32-byte hash and 4-byte length per piece). */
  indexBytes: number;
}

type Piece = { key: string; offset: number; length: number };

async function* readAll(path: string): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(4 * 1048576);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

const digest = (data: Uint8Array) => createHash('sha256').update(data).digest('base64');

async function fixedPieces(path: string, size: number, withOffset: boolean): Promise<Piece[]> {
  const pieces: Piece[] = [];
  let carry = Buffer.alloc(0);
  let offset = 0;
  for await (const chunk of readAll(path)) {
    let data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let at = 0;
    while (data.length - at >= size) {
      const piece = data.subarray(at, at + size);
      pieces.push({ key: withOffset ? `${offset}:${digest(piece)}` : digest(piece), offset, length: size });
      at += size;
      offset += size;
    }
    carry = Buffer.from(data.subarray(at));
    data = carry;
  }
  if (carry.length) pieces.push({ key: withOffset ? `${offset}:${digest(carry)}` : digest(carry), offset, length: carry.length });
  return pieces;
}

/**
 * Block-aligned content-defined chunks: runs of whole 4 KiB blocks, cut after a block whose own hash
 * has its low bits zero (average `avgBlocks`, at most `maxBlocks`). Made for filesystems that keep
 * file data block-aligned (ext4, erofs), where data moves by whole blocks between builds.
 */
async function alignedCdcPieces(path: string, avgBlocks: number, maxBlocks: number): Promise<Piece[]> {
  const blocks = await fixedPieces(path, 4096, false);
  const pieces: Piece[] = [];
  let running = createHash('sha256');
  let start = 0;
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    running.update(block.key);
    const cut = (Buffer.from(block.key, 'base64').readUInt32LE(0) & (avgBlocks - 1)) === 0;
    if (cut || i + 1 - start >= maxBlocks || i === blocks.length - 1) {
      const first = blocks[start]!;
      pieces.push({ key: running.digest('base64'), offset: first.offset, length: block.offset + block.length - first.offset });
      running = createHash('sha256');
      start = i + 1;
    }
  }
  return pieces;
}

async function cdcPieces(path: string, sizes: ChunkSizes): Promise<Piece[]> {
  const chunker = new Chunker(sizes);
  const pieces: Piece[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const emit = (length: number) => {
    const whole = Buffer.concat(pending);
    const piece = whole.subarray(0, length);
    pieces.push({ key: digest(piece), offset, length });
    offset += length;
    const rest = whole.subarray(length);
    pending = rest.length ? [Buffer.from(rest)] : [];
    pendingBytes = rest.length;
  };
  for await (const chunk of readAll(path)) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    for (const length of chunker.push(chunk)) emit(length);
  }
  const last = chunker.finish();
  if (last !== undefined) emit(last);
  if (pendingBytes !== 0) throw new Error('chunker lost bytes');
  return pieces;
}

async function compressedSize(path: string, pieces: Piece[]): Promise<number> {
  const file = await open(path, 'r');
  let total = 0;
  try {
    for (const piece of pieces) {
      const buffer = Buffer.allocUnsafe(piece.length);
      await file.read(buffer, 0, piece.length, piece.offset);
      total += Math.min(piece.length, gzipSync(buffer, { level: 6 }).length);
    }
  } finally {
    await file.close();
  }
  return total;
}

async function compare(scheme: string, oldPieces: Piece[], newPieces: Piece[], newPath: string): Promise<SchemeResult> {
  const have = new Set(oldPieces.map((p) => p.key));
  const missing: Piece[] = [];
  const seen = new Set<string>();
  for (const piece of newPieces) {
    if (have.has(piece.key) || seen.has(piece.key)) continue; // a piece twice in the new image is fetched once
    seen.add(piece.key);
    missing.push(piece);
  }
  return {
    scheme,
    pieces: newPieces.length,
    fetchBytes: missing.reduce((sum, p) => sum + p.length, 0),
    fetchCompressedBytes: await compressedSize(newPath, missing),
    indexBytes: newPieces.length * 36,
  };
}

export const CDC_SMALL: ChunkSizes = { minBytes: 4096, avgBytes: 16384, maxBytes: 65536 };
export const CDC_CASYNC: ChunkSizes = { minBytes: 16384, avgBytes: 65536, maxBytes: 262144 };

export async function measureSchemes(oldPath: string, newPath: string): Promise<SchemeResult[]> {
  return [
    await compare('fixed 1 MiB, same offset', await fixedPieces(oldPath, 1048576, true), await fixedPieces(newPath, 1048576, true), newPath),
    await compare('fixed 4 KiB, anywhere', await fixedPieces(oldPath, 4096, false), await fixedPieces(newPath, 4096, false), newPath),
    await compare('4K-aligned CDC avg 16 KiB', await alignedCdcPieces(oldPath, 4, 64), await alignedCdcPieces(newPath, 4, 64), newPath),
    await compare('4K-aligned CDC avg 32 KiB', await alignedCdcPieces(oldPath, 8, 64), await alignedCdcPieces(newPath, 8, 64), newPath),
    await compare('CDC 4/16/64 KiB', await cdcPieces(oldPath, CDC_SMALL), await cdcPieces(newPath, CDC_SMALL), newPath),
    await compare('CDC 16/64/256 KiB', await cdcPieces(oldPath, CDC_CASYNC), await cdcPieces(newPath, CDC_CASYNC), newPath),
  ];
}
