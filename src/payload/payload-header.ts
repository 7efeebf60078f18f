// Reads the payload's header region from a ByteReader: manifest, signatures, block table and the image
// data entry's tar header, each checked against the fixed layout and its size cap as it arrives.
// The caller decides whether the manifest is trusted (signature check) before the block table is read.

import { createHash } from 'node:crypto';
import { UpdateEngineError } from '../errors.ts';
import type { ByteReader } from './byte-reader.ts';
import { blockTableBytes, decodeBlockTable, totalStoredBytes, type BlockTable } from './block-table.ts';
import { chunkIndexBytes, decodeChunkIndex, type ChunkIndex } from './chunk-index.ts';
import { MANIFEST_MAX_BYTES, type PayloadManifest } from './manifest.ts';
import { parseSignatures, SIGNATURES_MAX_BYTES } from './signature.ts';
import {
  decodeTarHeader,
  ENTRY_NAMES,
  ENTRY_NAMES_V2,
  expectEntry,
  isZeroBlock,
  TAR_BLOCK_BYTES,
  TRAILER_MAX_BYTES,
  tarPadding,
  type EntryName,
} from './tar-header.ts';

export type RawSignature = ReturnType<typeof parseSignatures>[number];

export interface PayloadHeader {
  /** The manifest's exact bytes (what signatures cover). */
  manifestBytes: Buffer;
  manifest: PayloadManifest;
  /** SHA-256 (hex) of manifestBytes: identifies the payload's content (checkpoints use it). */
  manifestSha256Hex: string;
  signatures: RawSignature[];
  blockTable: BlockTable;
  /** The chunk index (formatVersion 2), its SHA-256 checked against the manifest and its tiling checked. */
  chunkIndex: ChunkIndex | undefined;
  /** Payload offset of the first image data byte: the header region is [0, dataOffset). */
  dataOffset: number;
  /** Size of the image data entry (the sum of the stored block lengths). */
  dataSizeBytes: number;
}

export interface ReadHeaderOptions {
  /** Called with the manifest bytes and signatures; returns the manifest once trusted (or throws). */
  accept(manifestBytes: Buffer, signatures: RawSignature[]): PayloadManifest;
}

/** Reads entry `index`'s tar header and checks its name and place. */
async function readEntryHeader(
  reader: ByteReader,
  index: number,
  names: readonly EntryName[] = ENTRY_NAMES,
): Promise<{ name: EntryName; sizeBytes: number; at: number }> {
  const at = reader.offset;
  const block = await reader.read(TAR_BLOCK_BYTES, `the tar header of entry ${index + 1}`);
  const header = decodeTarHeader(block, at);
  return { name: expectEntry(header, index, at, names), sizeBytes: header.sizeBytes, at };
}

interface HashedEntry {
  index: number;
  /** What the manifest implies: the entry's exact size, and why (for the message). */
  sizeBytes: number;
  sizeReason: string;
  /** The entry's name in messages ("Block table") and its SHA-256 from the manifest. */
  label: string;
  sha256Hex: string | undefined;
}

/** Reads an entry of exactly the size the manifest implies, and checks its SHA-256 against the manifest's. */
async function readHashedEntry(reader: ByteReader, names: readonly EntryName[], want: HashedEntry): Promise<Buffer> {
  const entry = await readEntryHeader(reader, want.index, names);
  if (entry.sizeBytes !== want.sizeBytes) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Entry "${entry.name}" at offset ${entry.at} says ${entry.sizeBytes} bytes, but ${want.sizeReason}`);
  }
  const bytes = await readEntryBody(reader, entry.name, entry.sizeBytes);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== want.sha256Hex) {
    throw new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', `${want.label} SHA-256 is ${actual}, the manifest says ${want.sha256Hex}`);
  }
  return bytes;
}

async function readEntryBody(reader: ByteReader, name: EntryName, sizeBytes: number): Promise<Buffer> {
  const body = await reader.read(sizeBytes, `entry "${name}"`);
  await reader.read(tarPadding(sizeBytes), `the padding after "${name}"`);
  return body;
}

function capped(name: EntryName, sizeBytes: number, maxBytes: number): void {
  if (sizeBytes > maxBytes) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Entry "${name}" is ${sizeBytes} bytes, over the ${maxBytes}-byte cap`);
  }
}

/** Reads the first entry only: the manifest's bytes (unverified). */
export async function readManifestBytes(reader: ByteReader): Promise<Buffer> {
  const entry = await readEntryHeader(reader, 0);
  capped(entry.name, entry.sizeBytes, MANIFEST_MAX_BYTES);
  return readEntryBody(reader, entry.name, entry.sizeBytes);
}

function readChunkIndex(reader: ByteReader, manifest: PayloadManifest): Promise<Buffer> {
  return readHashedEntry(reader, ENTRY_NAMES_V2, {
    index: 3,
    sizeBytes: chunkIndexBytes(manifest),
    sizeReason: `${manifest.chunkCount} chunks take ${chunkIndexBytes(manifest)}`,
    label: 'Chunk index',
    sha256Hex: manifest.chunkIndexSha256,
  });
}

/** Reads and checks the header region; on return the reader is at the first image data byte. */
export async function readPayloadHeader(reader: ByteReader, options: ReadHeaderOptions): Promise<PayloadHeader> {
  const manifestBytes = await readManifestBytes(reader);
  const sigEntry = await readEntryHeader(reader, 1);
  capped(sigEntry.name, sigEntry.sizeBytes, SIGNATURES_MAX_BYTES);
  const signatures = parseSignatures(await readEntryBody(reader, sigEntry.name, sigEntry.sizeBytes));
  const manifest = options.accept(manifestBytes, signatures);

  const names = manifest.formatVersion === 2 ? ENTRY_NAMES_V2 : ENTRY_NAMES;
  const tableBytes = await readHashedEntry(reader, names, {
    index: 2,
    sizeBytes: blockTableBytes(manifest),
    sizeReason: `${manifest.blockCount} blocks take ${blockTableBytes(manifest)}`,
    label: 'Block table',
    sha256Hex: manifest.blockTableSha256,
  });
  const blockTable = decodeBlockTable(tableBytes, manifest);
  const chunkIndex = manifest.formatVersion === 2 ? decodeChunkIndex(await readChunkIndex(reader, manifest), manifest) : undefined;

  const dataEntry = await readEntryHeader(reader, names.length - 1, names);
  if (dataEntry.sizeBytes !== totalStoredBytes(blockTable)) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_FORMAT',
      `Entry "${dataEntry.name}" at offset ${dataEntry.at} says ${dataEntry.sizeBytes} bytes, but the block table adds up to ${totalStoredBytes(blockTable)}`,
    );
  }
  return {
    manifestBytes,
    manifest,
    manifestSha256Hex: createHash('sha256').update(manifestBytes).digest('hex'),
    signatures,
    blockTable,
    chunkIndex,
    dataOffset: reader.offset,
    dataSizeBytes: dataEntry.sizeBytes,
  };
}

/**
 * Reads what follows the image data: its zero padding, then only zero blocks (at least two, the
 * end-of-archive marker) up to the end of the stream. Another entry, or anything non-zero, is refused.
 */
export async function readPayloadTrailer(reader: ByteReader, dataSizeBytes: number): Promise<void> {
  const paddingAt = reader.offset;
  const padding = await reader.read(tarPadding(dataSizeBytes), 'the padding after the image data');
  if (!isZeroBlock(padding)) throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `The padding after the image data at offset ${paddingAt} is not zero`);
  const start = reader.offset;
  for (;;) {
    const at = reader.offset;
    const piece = await reader.readUpTo(TAR_BLOCK_BYTES);
    if (piece.byteLength === 0) break;
    if (!isZeroBlock(piece)) {
      throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Unexpected data after the image data at offset ${at}: the image data is a payload's last entry`);
    }
    if (reader.offset - start > TRAILER_MAX_BYTES) {
      throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `More than ${TRAILER_MAX_BYTES} bytes of padding after the image data`);
    }
  }
  if (reader.offset - start < 2 * TAR_BLOCK_BYTES || (reader.offset - start) % TAR_BLOCK_BYTES !== 0) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload is truncated: it ends at offset ${reader.offset} inside the end-of-archive marker`);
  }
}
