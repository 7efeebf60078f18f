// The fleet circuit breaker on a real etcd: the failure record goes with the lock's release in one
// transaction, a waiter for a halted version stops waiting, locksmithctl halt/resume/status, and the
// etcd-lock strategy never reboots into a version while the breaker cannot be read.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haltOf, haltedError } from '../../src/lock/circuit-breaker.ts';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { LockManager } from '../../src/lock/lock-manager.ts';
import type { LockSnapshot } from '../../src/lock/lock-snapshot.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { EtcdLockStrategy } from '../../src/reboot/etcd-lock-strategy.ts';
import { runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { requireTool } from '../helpers/tools.ts';

let etcd: EtcdCluster;
const stores: EtcdLockStore[] = [];
beforeAll(async () => {
  requireTool('etcd');
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await etcd?.stop();
});

function node(group: string, id: string) {
  const store = new EtcdLockStore({ endpoints: etcd.endpoints, sessionTtlSeconds: 5 });
  stores.push(store);
  const client = new SemaphoreClient({ store, group, clock: systemClock });
  const manager = new LockManager({ client, id, clock: systemClock, logger: silentLogger(), pollInitialMs: 3_600_000, queueGraceMs: 3_600_000 });
  return { store, client, manager };
}

const vetoFor = (version: string, group: string) => (snap: LockSnapshot) => {
  const halt = haltOf(snap.breaker, version, 1);
  return halt ? haltedError(halt, group) : undefined;
};
const ctl = (group: string, ...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);

describe('the fleet circuit breaker on etcd', () => {
  it('writes the failure in the transaction that releases the lock, and the waiter for that version gives up', async () => {
    const a = node('txn', 'a');
    const b = node('txn', 'b');
    await a.manager.acquire();
    const waiting = b.manager.acquire(undefined, vetoFor('2.0.0', 'txn'));
    const outcome = waiting.then(
      () => 'took',
      (e: { code?: string }) => e.code,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await a.manager.releaseWithFailure({ machineId: 'a', version: '2.0.0', code: 'ERR_HEALTH_CHECK', failedAtMs: Date.now() })).toBe(true);
    expect(await outcome).toBe('ERR_FLEET_HALTED');
    const snap = await a.client.snapshot();
    expect(snap.semaphore.holders).toEqual([]);
    expect(snap.waiters).toEqual([]);
    const failure = await a.store.get(a.client.keys.failure('2.0.0', 'a'));
    const semaphore = await a.store.get(a.client.keys.semaphore);
    expect(failure?.modRevision).toBe(semaphore?.modRevision);
    // A newer version is not blocked.
    await b.manager.acquire(undefined, vetoFor('2.0.1', 'txn'));
    expect((await b.client.snapshot()).semaphore.holders).toEqual(['b']);
  });

  it('locksmithctl halts a version by hand, shows it after locksmith lines, and resume clears it', async () => {
    expect((await ctl('ops', 'set-max', '0')).code).toBe(0);
    const w = node('ops', 'w');
    const waiting = w.manager.acquire(undefined, vetoFor('3.0.0', 'ops'));
    const outcome = waiting.then(
      () => 'took',
      (e: { code?: string }) => e.code,
    );
    await new Promise((r) => setTimeout(r, 300));
    const halted = await ctl('ops', 'halt', '3.0.0');
    expect(halted).toMatchObject({ code: 0, stderr: '' });
    expect(halted.stdout).toContain('Halted version 3.0.0 in group "ops"');
    expect(await outcome).toBe('ERR_FLEET_HALTED');
    const status = await ctl('ops', 'status');
    expect(status.stdout.split('\n').slice(0, 3)).toEqual(['Available: 0', 'Max: 0', '']);
    expect(status.stdout).toMatch(/^3\.0\.0 +0 +halted by locksmithctl \(.+@.+\) at \d{4}-/m);
    const resumed = await ctl('ops', 'resume', '3.0.0');
    expect(resumed.stdout).toContain('Resumed version 3.0.0 in group "ops": removed 0 failure record(s) and the halt');
    expect((await ctl('ops', 'status')).stdout).toBe('Available: 0\nMax: 0\n');
    expect((await ctl('ops', 'resume', '3.0.0')).stdout).toContain('nothing to resume');
  });

  it('locksmithctl refuses a missing or invalid version', async () => {
    const missing = await ctl('ops', 'halt');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('halt needs a VERSION');
    const bad = await ctl('ops', 'resume', 'not a version');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Invalid version "not a version" for resume');
  });

  it('etcd-lock does not reboot into a version while the breaker cannot be read, and refuses a halted one', async () => {
    const strategy = new EtcdLockStrategy({
      schedule: { windows: [], timeZone: undefined },
      clock: systemClock,
      logger: silentLogger(),
      machineId: 'm1',
      group: 'outage',
      staleAfterMs: 0,
      openStore: async () => new EtcdLockStore({ endpoints: etcd.endpoints, callTimeoutMs: 1000 }),
      storeDescription: etcd.endpoints.join(','),
      lockTimings: { pollInitialMs: 200, pollCeilingMs: 500 },
    });
    try {
      await strategy.atStart({ signal: new AbortController().signal }, 'idle');
      expect((await ctl('outage', 'halt', '4.0.0')).code).toBe(0);
      await etcd.members[0]!.stop();
      let decided: string | undefined;
      const decision = strategy.beforeReboot({ signal: new AbortController().signal, version: '4.0.0' }).then(
        (d) => (decided = d),
        (e: { code?: string }) => (decided = e.code),
      );
      await new Promise((r) => setTimeout(r, 4000));
      expect(decided).toBeUndefined();
      await etcd.members[0]!.restart();
      await decision;
      expect(decided).toBe('ERR_FLEET_HALTED');
      expect(await strategy.lockHeld()).toBe(false);
      await ctl('outage', 'resume', '4.0.0');
      expect(await strategy.beforeReboot({ signal: new AbortController().signal, version: '4.0.0' })).toBe('reboot');
      expect(await strategy.lockHeld()).toBe(true);
    } finally {
      await strategy.close();
    }
  }, 60_000);

  it('etcd-lock takes a version below FLEET_FAILURE_THRESHOLD, and refuses it at the threshold', async () => {
    const strategy = (machineId: string) =>
      new EtcdLockStrategy({
        schedule: { windows: [], timeZone: undefined },
        clock: systemClock,
        logger: silentLogger(),
        machineId,
        group: 'threshold',
        staleAfterMs: 0,
        failureThreshold: 2,
        openStore: async () => new EtcdLockStore({ endpoints: etcd.endpoints }),
        storeDescription: etcd.endpoints.join(','),
      });
    const [a, b, c] = [strategy('a'), strategy('b'), strategy('c')];
    const signal = new AbortController().signal;
    const failure = { version: '5.0.0', code: 'ERR_ROLLBACK' as const, atMs: Date.now() };
    try {
      expect(await a.beforeReboot({ signal, version: '5.0.0' })).toBe('reboot');
      await a.afterRollback({ signal, failure });
      expect(await b.fleetHalt('5.0.0')).toBeUndefined();
      expect(await b.beforeReboot({ signal, version: '5.0.0' })).toBe('reboot');
      await b.afterRollback({ signal, failure });
      expect((await c.fleetHalt('5.0.0'))?.failures.map((f) => f.machineId)).toEqual(['a', 'b']);
      await expect(c.beforeReboot({ signal, version: '5.0.0' })).rejects.toMatchObject({ code: 'ERR_FLEET_HALTED' });
      expect(await c.lockHeld()).toBe(false);
      expect(await c.beforeReboot({ signal, version: '5.0.1' })).toBe('reboot');
    } finally {
      for (const s of [a, b, c]) await s.close();
    }
  });
});
