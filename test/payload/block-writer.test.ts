// BlockWriter on a real file region: out-of-order submissions, syncs before checkpoints, read-back
// into the image hash, and what happens when the target fails. The instrumented target is the real
// FileRegionTarget with its calls recorded (and a failure injected where a test asks for one).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { BlockWriter } from '../../src/payload/block-writer.ts';
import { HashPool } from '../../src/payload/hash-pool.ts';
import { makeDisk, seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
const pool = new HashPool(2);
beforeAll(async () => ({ dir, cleanup } = await tempDir('block-writer-')));
afterAll(async () => {
  await pool.close();
  await cleanup();
});

const BLOCK = 4096;
const image = seededBytes(10 * BLOCK + 100, 31);
const block = (i: number) => image.subarray(i * BLOCK, Math.min(image.byteLength, (i + 1) * BLOCK));

class RecordingTarget extends FileRegionTarget {
  written = new Set<number>();
  /** Blocks durable at each sync. */
  durableAtSync: number[] = [];
  failWriteAt: number | undefined;
  override async write(data: Uint8Array, offset: number): Promise<void> {
    if (offset === this.failWriteAt) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'ERR_DOWNLOAD_WRITE' });
    await super.write(data, offset);
    this.written.add(offset / BLOCK);
  }
  override async sync(): Promise<void> {
    let n = 0;
    while (this.written.has(n)) n++;
    await super.sync();
    this.durableAtSync.push(n);
  }
}

async function setup(name: string) {
  const disk = join(dir, `${name}.img`);
  await makeDisk(disk, 12 * BLOCK);
  const target = new RecordingTarget(disk, 0, 12 * BLOCK);
  await target.open();
  const imageHash = pool.stream(1);
  const checkpoints: Array<{ nextBlock: number; durable: number }> = [];
  const failures: Error[] = [];
  const writer = new BlockWriter(
    {
      target,
      blockSizeBytes: BLOCK,
      blockCount: 11,
      imageSizeBytes: image.byteLength,
      firstBlock: 0,
      syncEveryBlocks: 2,
      readBack: true,
      imageHash,
      maxReadBackPendingBytes: 2 * BLOCK,
      checkpointEveryBlocks: 3,
      saveCheckpoint: async (nextBlock) => void checkpoints.push({ nextBlock, durable: Math.max(0, ...target.durableAtSync) }),
    },
    (e) => failures.push(e),
  );
  return { target, imageHash, writer, checkpoints, failures };
}

describe('BlockWriter', () => {
  it('writes blocks handed in out of order, reads them back in order into the image hash', async () => {
    const { target, imageHash, writer, checkpoints } = await setup('order');
    const released: number[] = [];
    for (const i of [1, 0, 3, 2, 4, 6, 5, 7, 9, 8, 10]) writer.submit(i, block(i), () => released.push(i));
    await writer.finish();
    expect(released.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await imageHash.digest()).toString('hex')).toBe(createHash('sha256').update(image).digest('hex'));
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const c of checkpoints) expect(c.durable).toBeGreaterThanOrEqual(c.nextBlock);
    await target.close();
  });

  it('reports a failed write once, stops syncing forward, and saves a checkpoint at what is durable', async () => {
    const { target, writer, checkpoints, failures } = await setup('fail');
    target.failWriteAt = 5 * BLOCK;
    for (let i = 0; i < 11; i++) writer.submit(i, block(i), () => undefined);
    await expect(writer.finish()).rejects.toThrow('EIO: i/o error, write');
    expect(failures).toHaveLength(1);
    const durable = await writer.stop();
    expect(durable).toBeLessThanOrEqual(5);
    expect(checkpoints.at(-1)?.nextBlock ?? 0).toBeLessThanOrEqual(5);
    await target.close();
  });

  it('stop() after some blocks syncs them and saves the checkpoint there', async () => {
    const { target, writer, checkpoints } = await setup('stop');
    for (let i = 0; i < 4; i++) writer.submit(i, block(i), () => undefined);
    expect(await writer.stop()).toBe(4);
    expect(checkpoints.at(-1)).toEqual({ nextBlock: 4, durable: 4 });
    await target.close();
  });
});
