// The sync stage on a real file region: a sync every N written blocks (each run it passes on is
// durable), an early sync when the pool runs out, what was written synced when the input fails, and
// a failed sync that nothing later may vouch for.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BlockPool } from '../../src/payload/block-pool.ts';
import type { WrittenBlock } from '../../src/payload/stage-flow.ts';
import { syncBlocks, type SyncedRun } from '../../src/payload/stage-sync.ts';
import { seededBytes, tempDir } from './helpers.ts';
import { collect, recordingTarget, writtenBlocks, type RecordingTarget } from './stage-helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('stage-sync-')));
afterAll(async () => cleanup());

const BLOCK = 4096;
const image = seededBytes(10 * BLOCK + 100, 32);

/** Checks each run against the target: durable when passed on; releases its buffers. */
function consume(target: RecordingTarget, run: SyncedRun): number {
  expect(Math.max(0, ...target.durableAtSync)).toBeGreaterThanOrEqual(run.upTo);
  for (const block of run.blocks) block.kept?.lease.release();
  return run.upTo;
}

describe('syncBlocks', () => {
  it('syncs every N blocks (what came during a sync goes with the next one) and at the end; every run passed on is durable', async () => {
    const target = await recordingTarget(join(dir, 'every.img'), 12, BLOCK);
    const pool = new BlockPool(12, BLOCK);
    const runs = await collect(syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11), { target, everyBlocks: 3 }));
    const upTo = runs.map((r) => consume(target, r));
    expect(upTo[0]).toBe(3);
    expect(upTo.at(-1)).toBe(11);
    for (const r of runs.slice(0, -1)) expect(r.blocks.length).toBeGreaterThanOrEqual(3);
    expect(runs.flatMap((r) => r.blocks.map((b) => b.index))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(target.syncCalls).toBe(runs.length);
    expect(pool.leased).toBe(0);
    await target.close();
  });

  it('syncs early when the pool makes an acquire wait, so that held blocks can go', async () => {
    const target = await recordingTarget(join(dir, 'starved.img'), 12, BLOCK);
    const pool = new BlockPool(3, BLOCK);
    // A sync every 100 blocks would never come with 3 buffers: the starved pool asks for one.
    const runs: number[] = [];
    for await (const run of syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11), { target, everyBlocks: 100, pool })) runs.push(consume(target, run));
    expect(runs.at(-1)).toBe(11);
    expect(runs.length).toBeGreaterThan(2);
    expect(pool.leased).toBe(0);
    await target.close();
  });

  it('when the input fails: syncs what was written, passes it on, then throws the input failure', async () => {
    const target = await recordingTarget(join(dir, 'input-fails.img'), 12, BLOCK);
    const pool = new BlockPool(12, BLOCK);
    async function* failing(): AsyncGenerator<WrittenBlock> {
      yield* writtenBlocks(image, BLOCK, pool, target, 0, 5);
      throw new Error('transport reset');
    }
    const runs: number[] = [];
    const run = async () => {
      for await (const r of syncBlocks(failing(), { target, everyBlocks: 3 })) runs.push(consume(target, r));
    };
    await expect(run()).rejects.toThrow('transport reset');
    expect(runs).toEqual([3, 5]);
    expect(pool.leased).toBe(0);
    await target.close();
  });

  it.each([
    { what: 'fails for good', once: false },
    { what: 'fails once (a later sync would succeed, but cannot vouch for the lost writes)', once: true },
  ])('when a sync $what: ERR_DOWNLOAD_WRITE, nothing after the last good sync passed on, no sync after it', async ({ once }) => {
    const target = await recordingTarget(join(dir, `sync-fails-${once}.img`), 12, BLOCK);
    target.failSyncFrom = 2;
    target.failSyncOnce = once;
    const pool = new BlockPool(12, BLOCK);
    const failures: unknown[] = [];
    const runs: number[] = [];
    const run = async () => {
      for await (const r of syncBlocks(writtenBlocks(image, BLOCK, pool, target, 0, 11), { target, everyBlocks: 4, onFailure: (e) => failures.push(e) }))
        runs.push(consume(target, r));
    };
    await expect(run()).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_WRITE', message: `Cannot sync "${target.description}": EIO: i/o error, fdatasync` });
    expect(runs).toEqual([4]);
    expect(failures).toHaveLength(1);
    expect(target.syncCalls).toBe(2);
    expect(pool.leased).toBe(0);
    await target.close();
  });
});
