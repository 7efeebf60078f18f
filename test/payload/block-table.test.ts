// Block table encoding, the stored-length rules per compression, and the offsets it gives.

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { blockHash, decodeBlockTable, encodeBlockTable, maxStoredBlockBytes, totalStoredBytes } from '../../src/payload/block-table.ts';
import type { PayloadManifest } from '../../src/payload/manifest.ts';

const manifest = (compression: PayloadManifest['compression'], imageSize = 10_000): PayloadManifest => ({
  formatVersion: 1,
  version: '1.0.0',
  imageSize,
  blockSize: 4096,
  blockCount: Math.ceil(imageSize / 4096),
  compression,
  imageSha256: '0'.repeat(64),
  blockTableSha256: '0'.repeat(64),
});
const hashes = [0, 1, 2].map((i) => createHash('sha256').update(String(i)).digest());

describe('block table', () => {
  it('encodes 36 bytes per block and decodes offsets and hashes', () => {
    const bytes = encodeBlockTable(hashes, [100, 4000, 30]);
    expect(bytes.byteLength).toBe(108);
    const table = decodeBlockTable(bytes, manifest('gzip'));
    expect([...table.storedLengths]).toEqual([100, 4000, 30]);
    expect([...table.storedOffsets]).toEqual([0, 100, 4100, 4130]);
    expect(totalStoredBytes(table)).toBe(4130);
    expect(blockHash(table, 1).equals(hashes[1] as Buffer)).toBe(true);
  });

  it('requires raw blocks to be stored at exactly their length', () => {
    expect(decodeBlockTable(encodeBlockTable(hashes, [4096, 4096, 1808]), manifest('none')).storedOffsets[3]).toBe(10_000);
    expect(() => decodeBlockTable(encodeBlockTable(hashes, [4096, 4095, 1808]), manifest('none'))).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT', message: 'Block table entry 1 has a stored length of 4095 bytes, expected exactly 4096' }),
    );
  });

  it('bounds compressed blocks', () => {
    expect(maxStoredBlockBytes('gzip', 4096)).toBe(4096 + 64 + 1024);
    expect(() => decodeBlockTable(encodeBlockTable(hashes, [5185, 1, 1]), manifest('brotli'))).toThrow(
      expect.objectContaining({ message: 'Block table entry 0 has a stored length of 5185 bytes, expected 1 to 5184' }),
    );
    expect(() => decodeBlockTable(encodeBlockTable(hashes, [1, 0, 1]), manifest('gzip'))).toThrow(
      expect.objectContaining({ message: 'Block table entry 1 has a stored length of 0 bytes, expected 1 to 5184' }),
    );
  });

  it('refuses a table of the wrong size', () => {
    expect(() => decodeBlockTable(encodeBlockTable(hashes.slice(0, 2), [1, 1]), manifest('gzip'))).toThrow(
      expect.objectContaining({ message: 'Block table is 72 bytes, expected 108 (3 blocks of 36 bytes)' }),
    );
  });
});
