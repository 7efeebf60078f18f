// BlockPool: shared memory handed out as leases with one owner each, waiting (backpressure) when all
// are leased, a starvation hook, aborts while waiting, and no release twice.

import { describe, expect, it } from 'vitest';
import { BlockPool } from '../../src/payload/block-pool.ts';

describe('BlockPool', () => {
  it('hands out shared memory and makes the next acquire wait until a lease is released', async () => {
    const pool = new BlockPool(2, 1024);
    let starved = 0;
    pool.whenStarved(() => void starved++);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.memory.byteLength).toBe(1024);
    expect(pool.leased).toBe(2);
    let third: unknown;
    const waiting = pool.acquire().then((lease) => (third = lease));
    await Promise.resolve();
    expect(third).toBeUndefined();
    expect(starved).toBe(1);
    a.release();
    const c = await waiting;
    expect(c.memory).toBe(a.memory); // the same buffer, a new lease
    b.release();
    c.release();
    expect(pool.leased).toBe(0);
  });

  it('refuses a second release of the same lease', async () => {
    const lease = await new BlockPool(1, 16).acquire();
    lease.release();
    expect(() => lease.release()).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL', message: 'Block buffer released twice' }));
  });

  it('a waiting acquire rejects with the abort reason, and the pool stays whole', async () => {
    const pool = new BlockPool(1, 16);
    const held = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error('SIGTERM'));
    await expect(waiting).rejects.toThrow('SIGTERM');
    held.release();
    expect(pool.leased).toBe(0);
    (await pool.acquire()).release();
  });
});
