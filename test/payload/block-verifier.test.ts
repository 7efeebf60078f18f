// BlockVerifier: a block's image bytes against the signed block table on the hash workers (from shared
// memory, a plain buffer or a pending decode), the mismatch message, and the whole-image hash fed in
// the order the blocks were offered even when their bytes become ready out of order.

import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeBlockTable, encodeBlockTable } from '../../src/payload/block-table.ts';
import { BlockVerifier } from '../../src/payload/block-verifier.ts';
import { HashPool } from '../../src/payload/hash-pool.ts';
import type { PayloadManifest } from '../../src/payload/manifest.ts';
import { seededBytes, sha256Hex } from './helpers.ts';

const hashes = new HashPool(2);
afterAll(() => hashes.close());

const BLOCK = 4096;
const image = seededBytes(6 * BLOCK, 5);
const blocks = Array.from({ length: 6 }, (_, i) => image.subarray(i * BLOCK, (i + 1) * BLOCK));
const manifest: PayloadManifest = {
  formatVersion: 1,
  version: '1.0.0',
  imageSize: image.byteLength,
  blockSize: BLOCK,
  blockCount: 6,
  compression: 'none',
  imageSha256: sha256Hex(image),
  blockTableSha256: '0'.repeat(64),
};
const table = decodeBlockTable(
  encodeBlockTable(
    blocks.map((b) => createHash('sha256').update(b).digest()),
    blocks.map((b) => b.byteLength),
  ),
  manifest,
);

describe('BlockVerifier', () => {
  it("accepts the table's blocks from shared memory and refuses a changed one with both hashes in the message", async () => {
    const verifier = new BlockVerifier(hashes, table);
    const shared = Buffer.from(new SharedArrayBuffer(BLOCK));
    shared.set(blocks[2] as Buffer);
    await expect(verifier.check(2, shared)).resolves.toBeUndefined();
    expect(await verifier.matches(2, shared)).toBe(true);
    shared[100] = (shared[100] ?? 0) ^ 1;
    expect(await verifier.matches(2, shared)).toBe(false);
    await expect(verifier.check(2, shared)).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: `Block 2 SHA-256 is ${sha256Hex(shared)}, the block table says ${createHash('sha256')
        .update(blocks[2] as Buffer)
        .digest('hex')}`,
    });
    expect(await verifier.imageDigestHex()).toBeUndefined();
  });

  it('feeds the image hash in the order the blocks were offered, not the order their bytes arrive', async () => {
    const verifier = new BlockVerifier(hashes, table, hashes.stream(1));
    const late = (i: number) => sleep(30 - i * 5).then(() => Buffer.from(blocks[i] as Buffer));
    await Promise.all(blocks.map((_, i) => verifier.check(i, late(i))));
    expect(await verifier.imageDigestHex()).toBe(sha256Hex(image));
  });

  it('a decode that fails fails the check with its own error', async () => {
    const verifier = new BlockVerifier(hashes, table);
    await expect(verifier.check(0, Promise.reject(new Error('does not decompress')))).rejects.toThrow('does not decompress');
  });
});
