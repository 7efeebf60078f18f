// The block table (third tar entry): per block, the SHA-256 of its image bytes and its stored length,
// 36 bytes each (32-byte hash, big-endian uint32 length). From it the payload offset of any block follows.

import { UpdateEngineError } from '../errors.ts';
import { imageBlockLength, type PayloadManifest } from './manifest.ts';

export const BLOCK_TABLE_ENTRY_BYTES = 36;

export interface BlockTable {
  /** The table's bytes as stored (the hashes are read from here, without copying). */
  readonly bytes: Buffer;
  readonly blockCount: number;
  /** Stored length of each block. */
  readonly storedLengths: Uint32Array;
  /** Offset of each block's stored bytes from the start of the image data entry (blockCount + 1 values). */
  readonly storedOffsets: Float64Array;
}

/**
 * The most a stored block may take: its image length when stored raw; with compression, a bound
 * above the worst-case expansion of gzip and brotli on incompressible data.
 */
export function maxStoredBlockBytes(compression: PayloadManifest['compression'], imageLength: number): number {
  return compression === 'none' ? imageLength : imageLength + Math.ceil(imageLength / 64) + 1024;
}

/** Encodes hashes (32 bytes each) and stored lengths into table bytes. */
export function encodeBlockTable(hashes: readonly Uint8Array[], storedLengths: readonly number[]): Buffer {
  const out = Buffer.alloc(hashes.length * BLOCK_TABLE_ENTRY_BYTES);
  hashes.forEach((hash, i) => {
    if (hash.byteLength !== 32) throw new UpdateEngineError('ERR_INTERNAL', `Block ${i} hash has ${hash.byteLength} bytes`);
    out.set(hash, i * BLOCK_TABLE_ENTRY_BYTES);
    out.writeUInt32BE(storedLengths[i] ?? 0, i * BLOCK_TABLE_ENTRY_BYTES + 32);
  });
  return out;
}

/** The table size the manifest implies (the tar header must say exactly this). */
export function blockTableBytes(m: Pick<PayloadManifest, 'blockCount'>): number {
  return m.blockCount * BLOCK_TABLE_ENTRY_BYTES;
}

/** Decodes table bytes and checks each stored length against the manifest (ERR_PAYLOAD_FORMAT). */
export function decodeBlockTable(bytes: Buffer, m: PayloadManifest): BlockTable {
  if (bytes.byteLength !== blockTableBytes(m)) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_FORMAT',
      `Block table is ${bytes.byteLength} bytes, expected ${blockTableBytes(m)} (${m.blockCount} blocks of ${BLOCK_TABLE_ENTRY_BYTES} bytes)`,
    );
  }
  const storedLengths = new Uint32Array(m.blockCount);
  const storedOffsets = new Float64Array(m.blockCount + 1);
  for (let i = 0; i < m.blockCount; i++) {
    const stored = bytes.readUInt32BE(i * BLOCK_TABLE_ENTRY_BYTES + 32);
    const imageLength = imageBlockLength(m, i);
    const max = maxStoredBlockBytes(m.compression, imageLength);
    const ok = m.compression === 'none' ? stored === imageLength : stored >= 1 && stored <= max;
    if (!ok) {
      const want = m.compression === 'none' ? `exactly ${imageLength}` : `1 to ${max}`;
      throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Block table entry ${i} has a stored length of ${stored} bytes, expected ${want}`);
    }
    storedLengths[i] = stored;
    storedOffsets[i + 1] = (storedOffsets[i] ?? 0) + stored;
  }
  return { bytes, blockCount: m.blockCount, storedLengths, storedOffsets };
}

/** The expected SHA-256 of block `index`'s image bytes (a view into the table). */
export function blockHash(table: BlockTable, index: number): Buffer {
  const at = index * BLOCK_TABLE_ENTRY_BYTES;
  return table.bytes.subarray(at, at + 32);
}

/** Total stored bytes of all blocks: the size the image data entry must have. */
export function totalStoredBytes(table: BlockTable): number {
  return table.storedOffsets[table.blockCount] ?? 0;
}
