// BlockWriter on a real file region: out-of-order submissions, syncs before checkpoints, read-back
// compared with the verified bytes, and what happens when the target fails (a write, the final sync,
// a block that reads back different). The instrumented target is the real FileRegionTarget.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { BlockWriter } from '../../src/payload/block-writer.ts';
import { makeDisk, seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('block-writer-')));
afterAll(async () => cleanup());

const BLOCK = 4096;
const BLOCKS = 11;
const image = seededBytes(10 * BLOCK + 100, 31);
const block = (i: number) => image.subarray(i * BLOCK, Math.min(image.byteLength, (i + 1) * BLOCK));

class RecordingTarget extends FileRegionTarget {
  written = new Set<number>();
  /** Blocks durable at each sync that succeeded. */
  durableAtSync: number[] = [];
  syncCalls = 0;
  reads = 0;
  failWriteAt: number | undefined;
  /** Sync calls from this one on fail (1-based); `failSyncOnce`: only that one. */
  failSyncFrom: number | undefined;
  failSyncOnce = false;
  /** Writes this byte offset with one bit flipped (a disk that silently corrupts). */
  corruptAt: number | undefined;

  override async write(data: Uint8Array, offset: number): Promise<void> {
    if (offset === this.failWriteAt) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    let bytes = data;
    if (this.corruptAt !== undefined && this.corruptAt >= offset && this.corruptAt < offset + data.byteLength) {
      bytes = Buffer.from(data);
      bytes[this.corruptAt - offset] = (bytes[this.corruptAt - offset] ?? 0) ^ 0x10;
    }
    await super.write(bytes, offset);
    this.written.add(offset / BLOCK);
  }

  override async sync(): Promise<void> {
    this.syncCalls += 1;
    const failing = this.failSyncFrom !== undefined && (this.failSyncOnce ? this.syncCalls === this.failSyncFrom : this.syncCalls >= this.failSyncFrom);
    if (failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    let n = 0;
    while (this.written.has(n)) n++;
    await super.sync();
    this.durableAtSync.push(n);
  }

  override async readInto(buffer: Uint8Array, offset: number): Promise<number> {
    this.reads += 1;
    return super.readInto(buffer, offset);
  }
}

async function setup(name: string, options: { readBack?: boolean; syncEveryBlocks?: number } = {}) {
  const disk = join(dir, `${name}.img`);
  await makeDisk(disk, 12 * BLOCK);
  const target = new RecordingTarget(disk, 0, 12 * BLOCK);
  await target.open();
  const checkpoints: Array<{ nextBlock: number; durable: number }> = [];
  const failures: Error[] = [];
  const writer = new BlockWriter(
    {
      target,
      blockSizeBytes: BLOCK,
      blockCount: BLOCKS,
      imageSizeBytes: image.byteLength,
      firstBlock: 0,
      syncEveryBlocks: options.syncEveryBlocks ?? 2,
      readBack: options.readBack ?? true,
      checkpointEveryBlocks: 3,
      saveCheckpoint: async (nextBlock) => void checkpoints.push({ nextBlock, durable: Math.max(0, ...target.durableAtSync) }),
    },
    (e) => failures.push(e),
  );
  return { target, writer, checkpoints, failures };
}

describe('BlockWriter', () => {
  it('writes blocks handed in out of order, reads each back after a sync, and releases it only then', async () => {
    const { target, writer, checkpoints } = await setup('order');
    const released: number[] = [];
    const releasedBeforeSync: number[] = [];
    for (const i of [1, 0, 3, 2, 4, 6, 5, 7, 9, 8, 10]) {
      writer.submit(i, block(i), () => {
        released.push(i);
        if (Math.max(0, ...target.durableAtSync) <= i) releasedBeforeSync.push(i);
      });
    }
    await writer.finish();
    expect(released).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(releasedBeforeSync).toEqual([]);
    expect(target.reads).toBe(BLOCKS);
    expect(writer.verifiedBlocks).toBe(BLOCKS);
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const c of checkpoints) expect(c.durable).toBeGreaterThanOrEqual(c.nextBlock);
    await target.close();
  });

  it('without read-back, lets each block go once written and reads nothing', async () => {
    const { target, writer } = await setup('no-read-back', { readBack: false });
    let released = 0;
    for (let i = 0; i < BLOCKS; i++) writer.submit(i, block(i), () => void released++);
    await writer.finish();
    expect(released).toBe(BLOCKS);
    expect(target.reads).toBe(0);
    await target.close();
  });

  it('fails with ERR_IMAGE_VERIFICATION, naming block and offset, when a block reads back different', async () => {
    const { target, writer, failures } = await setup('corrupt');
    target.corruptAt = 6 * BLOCK + 123;
    for (let i = 0; i < BLOCKS; i++) writer.submit(i, block(i), () => undefined);
    await expect(writer.finish()).rejects.toMatchObject({
      code: 'ERR_IMAGE_VERIFICATION',
      message: `Block 6 read back from "${target.description}" differs from its verified bytes at offset ${6 * BLOCK + 123}`,
    });
    expect(failures).toHaveLength(1);
    expect(writer.verifiedBlocks).toBe(6);
    await writer.stop();
    await target.close();
  });

  it('reports a failed write once, stops syncing forward, and saves a checkpoint at what is durable', async () => {
    const { target, writer, checkpoints, failures } = await setup('fail');
    target.failWriteAt = 5 * BLOCK;
    for (let i = 0; i < BLOCKS; i++) writer.submit(i, block(i), () => undefined);
    await expect(writer.finish()).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_WRITE', message: `Cannot write block 5 to "${target.description}": EIO: i/o error, write` });
    expect(failures).toHaveLength(1);
    const durable = await writer.stop();
    expect(durable).toBeLessThanOrEqual(5);
    expect(checkpoints.at(-1)?.nextBlock ?? 0).toBeLessThanOrEqual(5);
    await target.close();
  });

  it.each([
    { what: 'fails for good', once: false },
    { what: 'fails once (a later sync would succeed, but cannot vouch for the lost writes)', once: true },
  ])('when the final sync $what, the resume point does not cover the unsynced blocks', async ({ once }) => {
    // No interval syncs: one requested after blocks 0..3, then the final one (the second call) fails.
    const { target, writer, checkpoints } = await setup(`final-sync-${once}`, { syncEveryBlocks: 100 });
    target.failSyncFrom = 2;
    target.failSyncOnce = once;
    for (let i = 0; i < 4; i++) writer.submit(i, block(i), () => undefined);
    await expect.poll(() => target.written.size).toBe(4);
    writer.requestSync();
    await expect.poll(() => target.durableAtSync).toEqual([4]);
    for (let i = 4; i < BLOCKS; i++) writer.submit(i, block(i), () => undefined);
    await expect(writer.finish()).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_WRITE', message: `Cannot sync "${target.description}": EIO: i/o error, fdatasync` });
    expect(await writer.stop()).toBe(4);
    expect(writer.syncedBlocks).toBe(4);
    expect(checkpoints.at(-1)).toEqual({ nextBlock: 4, durable: 4 });
    expect(target.syncCalls).toBe(2); // stop() did not sync again after the failure
    await target.close();
  });

  it('stop() after some blocks syncs them and saves the checkpoint there', async () => {
    const { target, writer, checkpoints } = await setup('stop');
    let released = 0;
    for (let i = 0; i < 4; i++) writer.submit(i, block(i), () => void released++);
    expect(await writer.stop()).toBe(4);
    expect(checkpoints.at(-1)).toEqual({ nextBlock: 4, durable: 4 });
    expect(released).toBe(4);
    await target.close();
  });

  it('requestSync() syncs what is written before the interval is reached, so that held blocks can go', async () => {
    const { target, writer } = await setup('request', { syncEveryBlocks: 100 });
    const released: number[] = [];
    for (let i = 0; i < 3; i++) writer.submit(i, block(i), () => void released.push(i));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(released).toEqual([]);
    expect(target.syncCalls).toBe(0);
    writer.requestSync();
    await expect.poll(() => released).toEqual([0, 1, 2]);
    expect(target.syncCalls).toBe(1);
    await writer.stop();
    await target.close();
  });
});
