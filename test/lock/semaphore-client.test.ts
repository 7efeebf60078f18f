import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { semaphoreKey } from '../../src/lock/lock-keys.ts';
import type { Guard, LockStore, WriteOp } from '../../src/lock/lock-store.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { parseSemaphore } from '../../src/lock/semaphore.ts';
import { systemClock, type Clock } from '../../src/platform/clock.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
const stores: EtcdLockStore[] = [];
function newStore(): EtcdLockStore {
  const s = new EtcdLockStore({ endpoints: etcd.endpoints });
  stores.push(s);
  return s;
}
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await etcd?.stop();
});

/** A clock whose sleeps return at once and are recorded. */
function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { now: () => Date.UTC(2024, 0, 1), monotonicMs: () => 0, sleep: async (ms) => void sleeps.push(ms), sleeps };
}

async function rawValue(group: string): Promise<string | undefined> {
  return (await newStore().get(semaphoreKey(group)))?.value;
}

describe('SemaphoreClient against etcd', () => {
  it("writes locksmith's exact JSON through lock, unlock and set-max", async () => {
    const client = new SemaphoreClient({ store: newStore(), group: 'formats', clock: systemClock });
    expect(await rawValue('formats')).toBeUndefined();
    expect((await client.snapshot()).semaphore).toEqual({ semaphore: 1, max: 1, holders: [] });
    await client.lock('b1');
    expect(await rawValue('formats')).toBe('{"semaphore":0,"max":1,"holders":["b1"]}');
    await expect(client.lock('a1')).rejects.toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE', message: 'semaphore is at 0' });
    expect(await client.setMax(3)).toEqual({ oldMax: 1, semaphore: { semaphore: 2, max: 3, holders: ['b1'] } });
    await client.lock('a1');
    await expect(client.lock('a1')).rejects.toMatchObject({ code: 'ERR_LOCK_DUPLICATE_HOLDER', message: 'holder exists' });
    expect(await rawValue('formats')).toBe('{"semaphore":1,"max":3,"holders":["a1","b1"]}');
    await client.unlock('b1');
    await expect(client.unlock('b1')).rejects.toMatchObject({ code: 'ERR_LOCK_NOT_HOLDER', message: 'holder does not exist' });
    expect(await rawValue('formats')).toBe('{"semaphore":2,"max":3,"holders":["a1"]}');
    expect((await client.setMax(1)).semaphore).toEqual({ semaphore: 0, max: 1, holders: ['a1'] });
  });

  it('reads values written by locksmith (holders null) and keeps a holder record beside them', async () => {
    const store = newStore();
    await store.commit([], [{ op: 'put', key: semaphoreKey('legacy'), value: '{"semaphore":1,"max":2,"holders":null}' }]);
    const client = new SemaphoreClient({ store, group: 'legacy', clock: systemClock });
    await client.lock('m1', { liveness: true });
    const snap = await client.snapshot();
    expect(snap.semaphore).toEqual({ semaphore: 0, max: 2, holders: ['m1'] });
    expect(snap.holders).toEqual([{ id: 'm1', record: { lockedAtMs: expect.any(Number), liveness: true }, alive: true }]);
    await client.unlock('m1');
    const after = await store.getPrefix(client.keys.prefix);
    expect(after.values.map((v) => v.key)).toEqual([semaphoreKey('legacy')]);
  });

  it('can leave the waiting queue in the lock commit, and start from a snapshot just read', async () => {
    const store = newStore();
    const client = new SemaphoreClient({ store, group: 'queue', clock: systemClock });
    await store.commit([], [{ op: 'put', key: client.keys.waiter('q'), value: '' }]);
    const fresh = await client.snapshot();
    expect(fresh.waiters).toEqual(['q']);
    await client.lock('q', { leaveQueue: true }, undefined, fresh);
    const after = await client.snapshot();
    expect([after.semaphore.holders, after.waiters]).toEqual([['q'], []]);
    // A stale snapshot costs one conflict, not a wrong write.
    await client.unlock('q', undefined);
    await client.lock('q', {}, undefined, fresh);
    expect(client.conflicts).toBe(1);
    expect((await client.snapshot()).semaphore).toEqual({ semaphore: 0, max: 1, holders: ['q'] });
  });

  it('uses the escaped group key', async () => {
    const client = new SemaphoreClient({ store: newStore(), group: 'db west', clock: systemClock });
    await client.lock('x');
    expect(await newStore().get('coreos.com/updateengine/rebootlock/groups/db+west/semaphore')).toMatchObject({
      value: '{"semaphore":0,"max":1,"holders":["x"]}',
    });
  });

  it('lets exactly max of many concurrent nodes in, each on its own connection', async () => {
    const admin = new SemaphoreClient({ store: newStore(), group: 'race', clock: systemClock });
    await admin.setMax(5);
    const ids = Array.from({ length: 20 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
    const clients = ids.map(() => new SemaphoreClient({ store: newStore(), group: 'race', clock: systemClock }));
    const results = await Promise.allSettled(ids.map((id, i) => (clients[i] as SemaphoreClient).lock(id)));
    const won = ids.filter((_, i) => results[i]?.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(5);
    expect(lost.map((r) => (r.reason as Error).message)).toEqual(Array(15).fill('semaphore is at 0'));
    const value = parseSemaphore((await rawValue('race')) as string);
    expect(value).toEqual({ semaphore: 0, max: 5, holders: [...won].sort() });
    expect(clients.reduce((n, c) => n + c.conflicts, 0)).toBeGreaterThan(0);
    await Promise.all(won.map((id) => (clients[ids.indexOf(id)] as SemaphoreClient).unlock(id)));
    expect(await rawValue('race')).toBe('{"semaphore":5,"max":5,"holders":[]}');
  });

  it('retries a conflict after a random delay whose ceiling doubles, and gives up with ERR_LOCK_CONFLICT', async () => {
    const real = newStore();
    const meddler = newStore();
    let bump = 0;
    // Every commit is preceded by another writer's change: every guard fails.
    const hostile: LockStore = Object.assign(Object.create(real) as LockStore, {
      commit: async (guards: readonly Guard[], ops: readonly WriteOp[]) => {
        bump += 1;
        await meddler.commit([], [{ op: 'put', key: semaphoreKey('conflict'), value: `{"semaphore":1,"max":1,"holders":[],"bump":${bump}}` }]);
        return real.commit(guards, ops);
      },
    });
    const clock = recordingClock();
    const client = new SemaphoreClient({
      store: hostile,
      group: 'conflict',
      clock,
      random: () => 0.5,
      maxAttempts: 6,
      conflictBaseDelayMs: 10,
      conflictBackoffCeilingMs: 100,
    });
    await expect(client.lock('a')).rejects.toMatchObject({ code: 'ERR_LOCK_CONFLICT', message: expect.stringContaining('6 attempts') });
    expect(clock.sleeps).toEqual([5, 10, 20, 40, 50]);
    expect(client.conflicts).toBe(6);
  });
});
