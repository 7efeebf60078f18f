// Block compression and decoding: raw as is; gzip and brotli inflated to exactly the block length, never past it.

import { describe, expect, it } from 'vitest';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { compressBlock, decodeBlock } from '../../src/payload/block-codec.ts';
import { seededBytes } from './helpers.ts';

const block = seededBytes(65536, 12);

describe('decodeBlock', () => {
  it('returns raw blocks as they are (no copy)', async () => {
    expect(await decodeBlock('none', block, block.byteLength, 0)).toBe(block);
  });

  for (const compression of ['gzip', 'brotli'] as const) {
    it(`${compression}: round-trips with compressBlock, also from shared memory`, async () => {
      const stored = await compressBlock(compression, block);
      expect(Buffer.from(await decodeBlock(compression, stored, block.byteLength, 3)).equals(block)).toBe(true);
      const shared = Buffer.from(new SharedArrayBuffer(stored.byteLength));
      stored.copy(shared);
      expect(Buffer.from(await decodeBlock(compression, shared, block.byteLength, 3)).equals(block)).toBe(true);
    });

    it(`${compression}: stops at the block length (zip bomb)`, async () => {
      const bomb = compression === 'gzip' ? gzipSync(Buffer.alloc(4 * 1024 * 1024)) : brotliCompressSync(Buffer.alloc(4 * 1024 * 1024));
      await expect(decodeBlock(compression, bomb, 65536, 9)).rejects.toMatchObject({
        code: 'ERR_PAYLOAD_FORMAT',
        message: `Block 9 decompresses past the block length of 65536 bytes (${compression})`,
      });
    });

    it(`${compression}: refuses a block that comes out short`, async () => {
      const stored = await compressBlock(compression, block.subarray(0, 1000));
      await expect(decodeBlock(compression, stored, 65536, 2)).rejects.toMatchObject({
        message: `Block 2 decompresses to 1000 bytes, expected 65536 (${compression})`,
      });
    });
  }

  it('refuses bytes that are not compressed data', async () => {
    await expect(decodeBlock('gzip', Buffer.from('plain text'), 10, 4)).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Block 4 does not decompress (gzip): incorrect header check',
    });
  });

  it('compresses deterministically (the generator relies on it)', async () => {
    for (const c of ['gzip', 'brotli'] as const) expect((await compressBlock(c, block)).equals(await compressBlock(c, block))).toBe(true);
  });
});
