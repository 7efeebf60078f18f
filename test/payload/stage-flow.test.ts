// mapOrdered, the joint between stages: results in source order whatever order the work finishes in,
// at most `limit` items in flight (pulling ahead only while there is room), and on every way out
// (source fails, work fails, consumer stops) each lease ends up released exactly once.

import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockPool, type BlockLease } from '../../src/payload/block-pool.ts';
import { mapOrdered } from '../../src/payload/stage-flow.ts';

interface Item {
  index: number;
  lease: BlockLease;
}

/** Items 0..n-1, each with a lease of `pool`; fails after `failAfter` items when set. */
async function* items(pool: BlockPool, n: number, pulled: number[], failAfter?: number): AsyncGenerator<Item> {
  for (let index = 0; index < n; index++) {
    if (index === failAfter) throw new Error('transport reset');
    const lease = await pool.acquire();
    pulled.push(index);
    yield { index, lease };
  }
}

/** Work that finishes in reverse order of a few ms, or fails for item `failAt`. */
const work =
  (failAt?: number) =>
  async (item: Item): Promise<Item> => {
    await sleep(10 - (item.index % 5) * 2);
    if (item.index === failAt) {
      item.lease.release();
      throw new Error(`item ${item.index} failed`);
    }
    return item;
  };

describe('mapOrdered', () => {
  it('yields in source order with at most `limit` items between source and consumer', async () => {
    const pool = new BlockPool(16, 8);
    const pulled: number[] = [];
    const out: number[] = [];
    for await (const item of mapOrdered(items(pool, 20, pulled), { limit: 3 }, work())) {
      // The consumer is slow: the stage may pull ahead, but only up to its limit.
      await sleep(5);
      expect(pulled.length - out.length).toBeLessThanOrEqual(4); // 3 in the stage + the one being consumed
      out.push(item.index);
      item.lease.release();
    }
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(pool.leased).toBe(0);
  });

  it('when the source fails, still yields the items taken before, then throws', async () => {
    const pool = new BlockPool(8, 8);
    const out: number[] = [];
    const run = async () => {
      for await (const item of mapOrdered(items(pool, 20, [], 6), { limit: 4 }, work())) {
        out.push(item.index);
        item.lease.release();
      }
    };
    await expect(run()).rejects.toThrow('transport reset');
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pool.leased).toBe(0);
  });

  it('when the work fails, reports it at once, yields what came before, drops what came after', async () => {
    const pool = new BlockPool(8, 8);
    const out: number[] = [];
    const failures: unknown[] = [];
    const run = async () => {
      for await (const item of mapOrdered(items(pool, 20, []), { limit: 4, onFailure: (e) => failures.push(e) }, work(5))) {
        out.push(item.index);
        item.lease.release();
      }
    };
    await expect(run()).rejects.toThrow('item 5 failed');
    expect(out).toEqual([0, 1, 2, 3, 4]);
    expect(failures).toHaveLength(1);
    expect(pool.leased).toBe(0);
  });

  it('when the consumer stops early, the items in flight and the source are let go', async () => {
    const pool = new BlockPool(8, 8);
    for await (const item of mapOrdered(items(pool, 20, []), { limit: 4 }, work())) {
      item.lease.release();
      if (item.index === 2) break;
    }
    expect(pool.leased).toBe(0);
  });
});
