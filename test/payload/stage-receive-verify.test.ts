// The first two stages over a real payload file: receive copies each stored block into a leased
// buffer (waiting for one when all are leased) and feeds the payload hash; verify decodes and checks
// each block (into its own buffer) against the signed table and passes on only blocks that match, in order.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockPool } from '../../src/payload/block-pool.ts';
import { BlockVerifier } from '../../src/payload/block-verifier.ts';
import { ByteReader } from '../../src/payload/byte-reader.ts';
import { openFilePayload } from '../../src/payload/file-source.ts';
import { HashPool } from '../../src/payload/hash-pool.ts';
import type { Compression } from '../../src/payload/manifest.ts';
import { readPayloadHeader } from '../../src/payload/payload-header.ts';
import { receiveBlocks } from '../../src/payload/stage-receive.ts';
import { verifyBlocks } from '../../src/payload/stage-verify.ts';
import { buildPayload, flipBit, seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
const hashes = new HashPool(2);
beforeAll(async () => ({ dir, cleanup } = await tempDir('stage-receive-')));
afterAll(async () => {
  await hashes.close();
  await cleanup();
});

const BLOCK = 4096;
const image = seededBytes(12 * BLOCK + 77, 21);

/** Builds a payload, reads its header, and returns what the two stages need. */
async function open(name: string, compression: Compression, bend?: (path: string, dataOffset: number) => Promise<void>) {
  const path = join(dir, `${name}.payload`);
  const { dataOffset } = await buildPayload(path, { image, blockSize: BLOCK, compression });
  await bend?.(path, dataOffset);
  const controller = new AbortController();
  const payloadHash = hashes.stream(0);
  const reader = new ByteReader(await openFilePayload(path, 1000)([{ start: 0 }], controller.signal), { onReturned: (b) => void payloadHash.update(b) });
  const header = await readPayloadHeader(reader, { accept: (bytes) => JSON.parse(bytes.toString()) });
  return { path, header, reader, payloadHash, signal: controller.signal };
}

describe('receiveBlocks and verifyBlocks', () => {
  it.each(['none', 'gzip'] as const)('pass on every block of the image, in order, and the payload hash covers the file (%s)', async (compression) => {
    const { path, header, reader, payloadHash, signal } = await open(`good-${compression}`, compression);
    const pool = new BlockPool(3, BLOCK + 1024);
    const received = receiveBlocks({ reader, table: header.blockTable, pool, firstBlock: 0, dataSizeBytes: header.dataSizeBytes, payloadHash, signal });
    const verifier = new BlockVerifier(hashes, header.blockTable);
    const images: Buffer[] = [];
    for await (const block of verifyBlocks(received, { manifest: header.manifest, verifier, limit: 2 })) {
      expect(block.index).toBe(images.length);
      expect(block.image.buffer).toBe(block.lease.memory.buffer); // inflated bytes too: in the block's own shared buffer
      images.push(Buffer.from(block.image));
      block.lease.release();
    }
    expect(Buffer.concat(images).equals(image)).toBe(true);
    expect(pool.leased).toBe(0);
    expect(
      (await payloadHash.digest()).equals(
        createHash('sha256')
          .update(await readFile(path))
          .digest(),
      ),
    ).toBe(true);
  });

  it('a block that does not match the table is never passed on; the blocks before it are', async () => {
    const { header, reader, payloadHash, signal } = await open('flipped', 'none', (p, dataOffset) => flipBit(p, dataOffset + 5 * BLOCK + 9, 2));
    const pool = new BlockPool(4, BLOCK);
    const received = receiveBlocks({ reader, table: header.blockTable, pool, firstBlock: 0, dataSizeBytes: header.dataSizeBytes, payloadHash, signal });
    const passed: number[] = [];
    const failures: unknown[] = [];
    const run = async () => {
      for await (const block of verifyBlocks(received, {
        manifest: header.manifest,
        verifier: new BlockVerifier(hashes, header.blockTable),
        limit: 2,
        onFailure: (e) => failures.push(e),
      })) {
        passed.push(block.index);
        block.lease.release();
      }
    };
    await expect(run()).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: expect.stringMatching(/^Block 5 SHA-256 is [0-9a-f]{64}, the block table says [0-9a-f]{64}$/),
    });
    expect(passed).toEqual([0, 1, 2, 3, 4]);
    expect(failures).toHaveLength(1);
    expect(pool.leased).toBe(0);
  });

  it('receive holds no more blocks than the pool has buffers: it waits for a release', async () => {
    const { header, reader, signal } = await open('backpressure', 'none');
    const pool = new BlockPool(2, BLOCK);
    const received = receiveBlocks({
      reader,
      table: header.blockTable,
      pool,
      firstBlock: 0,
      dataSizeBytes: header.dataSizeBytes,
      payloadHash: undefined,
      signal,
    });
    const first = await received.next();
    const second = await received.next();
    let third: unknown;
    const pending = received.next().then((r) => (third = r));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(third).toBeUndefined();
    expect(reader.bytesRead).toBeLessThan(header.dataOffset + 3 * BLOCK);
    if (!first.done) first.value.lease.release();
    await pending;
    expect(third).toMatchObject({ done: false, value: { index: 2 } });
    if (!second.done) second.value.lease.release();
    await received.return(undefined);
  });
});
