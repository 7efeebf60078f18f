import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { LockManager, type LockManagerOptions } from '../../src/lock/lock-manager.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { systemClock, type Clock } from '../../src/platform/clock.ts';
import { createLogger, silentLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
const stores: EtcdLockStore[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await etcd?.stop();
});

function node(group: string, id: string, extra: Partial<LockManagerOptions> & { clock?: Clock } = {}) {
  const store = new EtcdLockStore({ endpoints: etcd.endpoints, sessionTtlSeconds: 5 });
  stores.push(store);
  const clock = extra.clock ?? systemClock;
  const client = new SemaphoreClient({ store, group, clock });
  // The re-read timer is an hour: only the watch can wake a waiter in these tests.
  const manager = new LockManager({ client, id, clock, logger: silentLogger(), pollInitialMs: 3_600_000, queueGraceMs: 3_600_000, ...extra });
  return { store, client, manager };
}

function captureLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ destination: sink, pretty: false, level: 'debug' }), lines };
}

/** Resolves when check() holds; checks every 10 ms, gives up after capMs. */
async function until(check: () => boolean | Promise<boolean>, what: string, capMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > capMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LockManager against etcd', () => {
  it('takes a free slot with a liveness key, and releases it idempotently', async () => {
    const a = node('life', 'a');
    await a.manager.acquire();
    const snap = await a.client.snapshot();
    expect(snap.holders).toEqual([{ id: 'a', record: { lockedAtMs: expect.any(Number), liveness: true }, alive: true }]);
    await a.manager.acquire(); // already held: returns at once
    expect(await a.manager.release()).toBe(true);
    expect(await a.manager.release()).toBe(false);
    expect((await a.client.snapshot()).semaphore).toEqual({ semaphore: 1, max: 1, holders: [] });
  });

  it('waits for a release by watching the key, in queue order', async () => {
    const a = node('queue', 'a');
    const b = node('queue', 'b');
    const c = node('queue', 'c');
    await a.manager.acquire();
    const order: string[] = [];
    const bDone = b.manager.acquire().then(() => order.push('b'));
    await until(async () => (await a.client.snapshot()).waiters.includes('b'), 'b to queue');
    const cDone = c.manager.acquire().then(() => order.push('c'));
    await until(async () => (await a.client.snapshot()).waiters.length === 2, 'c to queue');
    expect((await a.client.snapshot()).waiters).toEqual(['b', 'c']);
    await a.manager.release();
    await bDone;
    expect(order).toEqual(['b']);
    expect((await a.client.snapshot()).semaphore.holders).toEqual(['b']);
    await b.manager.release();
    await cDone;
    expect(order).toEqual(['b', 'c']);
    const end = await a.client.snapshot();
    expect(end.waiters).toEqual([]);
    expect(end.semaphore.holders).toEqual(['c']);
    await c.manager.release();
  });

  it('stops waiting when aborted and leaves the queue', async () => {
    const a = node('abort', 'a');
    const b = node('abort', 'b');
    await a.manager.acquire();
    const ac = new AbortController();
    const waiting = b.manager.acquire(ac.signal);
    await until(async () => (await a.client.snapshot()).waiters.includes('b'), 'b to queue');
    ac.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    expect((await a.client.snapshot()).waiters).toEqual([]);
    expect(await b.manager.isHeld()).toBe(false);
    await a.manager.release();
  });

  it('re-creates the liveness key after a daemon restart while holding', async () => {
    const first = node('restart', 'm');
    await first.manager.acquire();
    await first.store.close(); // the daemon stops for the reboot: the liveness lease is revoked
    const second = node('restart', 'm');
    expect((await second.client.snapshot()).holders).toEqual([{ id: 'm', record: expect.objectContaining({ liveness: true }), alive: false }]);
    expect(await second.manager.refreshLiveness()).toBe(true);
    expect((await second.client.snapshot()).holders[0]?.alive).toBe(true);
    await second.manager.release();
    expect(await second.manager.refreshLiveness()).toBe(false);
  });

  it('evicts a holder whose liveness has been gone for LOCK_STALE_AFTER, and says so loudly', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger();
    const dead = node('stale', 'dead');
    await dead.manager.acquire();
    const waiter = node('stale', 'w', { clock, logger, staleAfterMs: 600_000 });
    let acquired = false;
    const done = waiter.manager.acquire().then(() => (acquired = true));
    await until(async () => (await dead.client.snapshot()).waiters.includes('w'), 'w to queue');
    await clock.advance(3_600_000);
    expect(acquired).toBe(false); // the holder is alive: no eviction however long we wait
    await dead.store.close(); // the holder dies: its liveness key goes with its lease
    await until(async () => {
      await clock.advance(300_000);
      return acquired;
    }, 'the eviction');
    await done;
    const snap = await waiter.client.snapshot();
    expect(snap.semaphore.holders).toEqual(['w']);
    const loud = lines.find((l) => l.msg.startsWith('EVICTED'));
    expect(loud).toMatchObject({ level: 50, evicted: 'dead', staleAfterMs: 600_000 });
    expect(loud?.msg).toContain('LOCK_STALE_AFTER=10m');
    expect(loud?.goneForMs as number).toBeGreaterThanOrEqual(600_000);
    await waiter.manager.release();
  });

  it('never evicts a manual lock (no liveness key promised)', async () => {
    const clock = new FakeClock();
    const admin = node('manual', 'admin');
    await admin.client.lock('admin'); // as `locksmithctl lock admin`
    const waiter = node('manual', 'w', { clock, staleAfterMs: 1000 });
    let acquired = false;
    const done = waiter.manager.acquire().then(() => (acquired = true));
    await until(async () => (await admin.client.snapshot()).waiters.includes('w'), 'w to queue');
    for (let i = 0; i < 5; i++) await clock.advance(3_600_000);
    expect(acquired).toBe(false);
    await admin.client.unlock('admin');
    await done;
    expect((await waiter.client.snapshot()).semaphore.holders).toEqual(['w']);
    await waiter.manager.release();
  });
});
