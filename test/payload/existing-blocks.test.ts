// findChangedBlock: the blocks a previous run left on the target, checked against the block table.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { BlockPool } from '../../src/payload/block-pool.ts';
import { decodeBlockTable, encodeBlockTable } from '../../src/payload/block-table.ts';
import { BlockVerifier } from '../../src/payload/block-verifier.ts';
import { findChangedBlock } from '../../src/payload/existing-blocks.ts';
import { HashPool } from '../../src/payload/hash-pool.ts';
import type { PayloadManifest } from '../../src/payload/manifest.ts';
import { seededBytes, sha256Hex, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
const pool = new HashPool(2);
beforeAll(async () => ({ dir, cleanup } = await tempDir('existing-blocks-')));
afterAll(async () => {
  await pool.close();
  await cleanup();
});

const BLOCK = 4096;
const image = seededBytes(8 * BLOCK, 3);
const manifest: PayloadManifest = {
  formatVersion: 1,
  version: '1.0.0',
  imageSize: image.byteLength,
  blockSize: BLOCK,
  blockCount: 8,
  compression: 'none',
  imageSha256: sha256Hex(image),
  blockTableSha256: '0'.repeat(64),
};
const blocks = Array.from({ length: 8 }, (_, i) => image.subarray(i * BLOCK, (i + 1) * BLOCK));
const table = decodeBlockTable(
  encodeBlockTable(
    blocks.map((b) => createHash('sha256').update(b).digest()),
    blocks.map((b) => b.byteLength),
  ),
  manifest,
);

async function check(disk: Buffer, count: number) {
  const path = join(dir, `disk-${count}-${disk[0]}.img`);
  await writeFile(path, disk);
  const target = new FileRegionTarget(path, 512, 8 * BLOCK);
  await target.open();
  const imageHash = pool.stream(1);
  try {
    const changed = await findChangedBlock({
      target,
      manifest,
      count,
      verifier: new BlockVerifier(pool, table, imageHash),
      pool: new BlockPool(4, BLOCK),
      signal: new AbortController().signal,
    });
    return { changed, prefixSha256: (await imageHash.digest()).toString('hex') };
  } finally {
    await target.close();
  }
}

describe('findChangedBlock', () => {
  it('finds nothing when the blocks are the image, and feeds them in order to the image hash', async () => {
    const disk = Buffer.concat([Buffer.alloc(512, 1), image]);
    expect(await check(disk, 5)).toEqual({ changed: undefined, prefixSha256: sha256Hex(image.subarray(0, 5 * BLOCK)) });
  });

  it('names the first block that differs', async () => {
    const disk = Buffer.concat([Buffer.alloc(512, 2), image]);
    disk.writeUInt8((disk[512 + 3 * BLOCK + 7] ?? 0) ^ 4, 512 + 3 * BLOCK + 7);
    expect((await check(disk, 6)).changed).toBe(3);
  });
});
