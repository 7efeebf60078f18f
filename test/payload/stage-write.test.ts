// The write stage on a real file region: blocks written at their offsets and passed on in order with
// progress, bytes kept only for the read-back, and a failed write reported with its block.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BlockPool } from '../../src/payload/block-pool.ts';
import { writeBlocks } from '../../src/payload/stage-write.ts';
import { checkRegion, seededBytes, tempDir } from './helpers.ts';
import { recordingTarget, verifiedBlocks } from './stage-helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('stage-write-')));
afterAll(async () => cleanup());

const BLOCK = 4096;
const image = seededBytes(10 * BLOCK + 100, 31);

describe('writeBlocks', () => {
  it.each([true, false])('writes every block, passes them on in order (bytes kept: %s)', async (keep) => {
    const target = await recordingTarget(join(dir, `order-${keep}.img`), 12, BLOCK);
    const pool = new BlockPool(4, BLOCK);
    const progress: number[] = [];
    const indexes: number[] = [];
    for await (const w of writeBlocks(verifiedBlocks(image, BLOCK, pool, 0, 11), {
      target,
      blockSizeBytes: BLOCK,
      keepForReadBack: keep,
      limit: 3,
      onWritten: (n) => progress.push(n),
    })) {
      indexes.push(w.index);
      expect(w.kept !== undefined).toBe(keep);
      if (w.kept) expect(Buffer.from(w.kept.image).equals(image.subarray(w.index * BLOCK, (w.index + 1) * BLOCK))).toBe(true);
      w.kept?.lease.release();
    }
    expect(indexes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(pool.leased).toBe(0);
    await target.close();
    expect(await checkRegion(join(dir, `order-${keep}.img`), 0, 12 * BLOCK, image, BLOCK)).toBe(11);
  });

  it('a failed write: ERR_DOWNLOAD_WRITE naming the block, reported at once, earlier blocks passed on, all buffers back', async () => {
    const target = await recordingTarget(join(dir, 'fail.img'), 12, BLOCK);
    target.failWriteAt = 5 * BLOCK;
    const pool = new BlockPool(4, BLOCK);
    const failures: unknown[] = [];
    const passed: number[] = [];
    const run = async () => {
      for await (const w of writeBlocks(verifiedBlocks(image, BLOCK, pool, 0, 11), {
        target,
        blockSizeBytes: BLOCK,
        keepForReadBack: true,
        limit: 3,
        onFailure: (e) => failures.push(e),
      })) {
        passed.push(w.index);
        w.kept?.lease.release();
      }
    };
    await expect(run()).rejects.toMatchObject({
      code: 'ERR_DOWNLOAD_WRITE',
      message: `Cannot write block 5 to "${target.description}": EIO: i/o error, write`,
    });
    expect(failures).toHaveLength(1);
    expect(passed).toEqual([0, 1, 2, 3, 4]);
    expect(pool.leased).toBe(0);
    await target.close();
  });
});
