// The read-back stage on a real file region: each kept block read back after its sync and compared
// byte for byte (its buffer let go then), a block that reads back different named with its offset,
// and blocks not kept passed straight on without reading.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BlockPool } from '../../src/payload/block-pool.ts';
import { readBackRuns } from '../../src/payload/stage-read-back.ts';
import { syncBlocks } from '../../src/payload/stage-sync.ts';
import { seededBytes, tempDir } from './helpers.ts';
import { collect, recordingTarget, writtenBlocks } from './stage-helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('stage-read-back-')));
afterAll(async () => cleanup());

const BLOCK = 4096;
const image = seededBytes(10 * BLOCK + 100, 33);

describe('readBackRuns', () => {
  it('reads every kept block back, lets its buffer go, and passes on how far the target is verified', async () => {
    const target = await recordingTarget(join(dir, 'good.img'), 12, BLOCK);
    const pool = new BlockPool(12, BLOCK);
    const synced = syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11), { target, everyBlocks: 4 });
    const upTo = await collect(readBackRuns(synced, { target, blockSizeBytes: BLOCK }));
    expect(upTo[0]).toBe(4);
    expect(upTo.at(-1)).toBe(11);
    expect(target.reads).toBe(11);
    expect(pool.leased).toBe(0);
    await target.close();
  });

  it('without kept bytes, reads nothing', async () => {
    const target = await recordingTarget(join(dir, 'not-kept.img'), 12, BLOCK);
    const pool = new BlockPool(12, BLOCK);
    const synced = syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11, false), { target, everyBlocks: 4 });
    expect((await collect(readBackRuns(synced, { target, blockSizeBytes: BLOCK }))).at(-1)).toBe(11);
    expect(target.reads).toBe(0);
    await target.close();
  });

  it('a block that reads back different: ERR_IMAGE_VERIFICATION with block and offset; its run was passed on as durable first', async () => {
    const target = await recordingTarget(join(dir, 'corrupt.img'), 12, BLOCK);
    target.corruptAt = 6 * BLOCK + 123;
    const pool = new BlockPool(12, BLOCK);
    const failures: unknown[] = [];
    const verified: number[] = [];
    const run = async () => {
      const synced = syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11), { target, everyBlocks: 4 });
      for await (const upTo of readBackRuns(synced, { target, blockSizeBytes: BLOCK, onFailure: (e) => failures.push(e) })) verified.push(upTo);
    };
    await expect(run()).rejects.toMatchObject({
      code: 'ERR_IMAGE_VERIFICATION',
      message: `Block 6 read back from "${target.description}" differs from its verified bytes at offset ${6 * BLOCK + 123}`,
    });
    expect(verified[0]).toBe(4);
    expect(verified.at(-1)).toBeGreaterThan(6); // durable (synced), so a resume point may cover it: a resume re-checks it
    expect(failures).toHaveLength(1);
    expect(pool.leased).toBe(0);
    await target.close();
  });
});
