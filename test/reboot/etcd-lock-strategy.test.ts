import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRebootWindows } from '../../src/config/values.ts';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import type { LockStore } from '../../src/lock/lock-store.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { EtcdLockStrategy } from '../../src/reboot/etcd-lock-strategy.ts';
import { runHealthGate } from '../../src/reboot/health-gate.ts';
import { CommandRebooter } from '../../src/reboot/rebooter.ts';
import { systemClock, type Clock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
let dir: string;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
  dir = mkdtempSync(join(tmpdir(), 'ue-etcd-strategy-'));
});
afterAll(async () => {
  for (const c of cleanups) await c();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ctx = (signal = new AbortController().signal) => ({ signal });

function strategy(group: string, machineId: string, opts: { clock?: Clock; windows?: string; wrap?: (s: LockStore) => LockStore } = {}) {
  const s = new EtcdLockStrategy({
    schedule: { windows: opts.windows ? parseRebootWindows(opts.windows) : [], timeZone: 'UTC' },
    clock: opts.clock ?? systemClock,
    logger: silentLogger(),
    machineId,
    group,
    staleAfterMs: 0,
    openStore: async () => {
      const store = new EtcdLockStore({ endpoints: etcd.endpoints, sessionTtlSeconds: 5 });
      return opts.wrap ? opts.wrap(store) : store;
    },
    storeDescription: etcd.endpoints.join(','),
    lockTimings: { pollInitialMs: 3_600_000, queueGraceMs: 3_600_000 },
  });
  cleanups.push(() => s.close());
  return s;
}

/** An observer's view of a group's semaphore and waiters. */
function observer(group: string) {
  const store = new EtcdLockStore({ endpoints: etcd.endpoints });
  cleanups.push(() => store.close());
  return new SemaphoreClient({ store, group, clock: systemClock });
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('etcd-lock strategy against etcd', () => {
  it('holds the lock across the reboot and releases it only after the post-boot health gate', async () => {
    const view = observer('life');
    const a = strategy('life', 'machine-a');
    const b = strategy('life', 'machine-b');
    expect(a.label).toContain('group "life"');
    await a.atStart(ctx(), 'idle');
    expect(await a.beforeReboot(ctx())).toBe('reboot');
    const log = join(dir, 'reboots.log');
    const script = join(dir, 'reboot.sh');
    writeFileSync(script, `#!/bin/sh\necho "$1" >> "${log}"\n`);
    chmodSync(script, 0o755);
    await new CommandRebooter({ command: `${script} machine-a`, logger: silentLogger(), wallArgv: null }).reboot('update');
    await a.close(); // the daemon goes down with the machine

    let bDecision: string | undefined;
    const bWaiting = b.beforeReboot(ctx()).then((d) => (bDecision = d));
    await until(async () => (await view.snapshot()).waiters.includes('machine-b'), 'b to queue');

    // The machine is back: a new daemon process, in its post-boot cycle.
    const a2 = strategy('life', 'machine-a');
    await a2.atStart(ctx(), 'post-boot');
    const during = await view.snapshot();
    expect(during.holders).toEqual([{ id: 'machine-a', record: expect.objectContaining({ liveness: true }), alive: true }]);
    expect(bDecision).toBeUndefined();
    expect(await runHealthGate({ command: 'true', timeoutMs: 1000, clock: systemClock })).toBe(true);
    await a2.afterHealthyBoot(ctx());
    await bWaiting;
    expect(bDecision).toBe('reboot');
    expect((await view.snapshot()).semaphore.holders).toEqual(['machine-b']);
    expect(readFileSync(log, 'utf8')).toBe('machine-a\n');
    await b.afterRollback(ctx());
    expect((await view.snapshot()).semaphore).toEqual({ semaphore: 1, max: 1, holders: [] });
  });

  it('releases at start a lock held while no reboot is due (Flatcar#408), and keeps it otherwise', async () => {
    const view = observer('408');
    await view.lock('m', { liveness: false }); // e.g. the node locked, then was rebooted by hand before its update finished
    const s = strategy('408', 'm');
    await s.atStart(ctx(), 'post-boot');
    expect(await s.lockHeld()).toBe(true);
    await s.atStart(ctx(), 'reboot-pending');
    expect(await s.lockHeld()).toBe(true);
    expect(await s.beforeReboot(ctx())).toBe('reboot'); // pending reboot: it already holds the slot
    await s.atStart(ctx(), 'idle');
    expect(await s.lockHeld()).toBe(false);
    expect((await view.snapshot()).semaphore).toEqual({ semaphore: 1, max: 1, holders: [] });
    await s.atStart(ctx(), 'idle'); // nothing held: no error
  });

  it('waits for a window before queueing, and leaves the queue when the window closes', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12)); // Monday noon UTC
    const view = observer('window');
    await view.lock('other');
    const s = strategy('window', 'w', { clock, windows: '02:00 1h' });
    let decision: string | undefined;
    const deciding = s.beforeReboot(ctx()).then((d) => (decision = d));
    await until(() => clock.pendingSleeps > 0, 'the window wait');
    expect((await view.snapshot()).waiters).toEqual([]); // outside the window: not even queued
    await clock.advance(14 * 3_600_000); // Tuesday 02:00: the window opens
    await until(async () => (await view.snapshot()).waiters.includes('w'), 'w to queue in the window');
    await clock.advance(3_600_000); // 03:00: closed, the lock never came
    await until(async () => (await view.snapshot()).waiters.length === 0, 'w to leave the queue');
    await view.unlock('other');
    expect(decision).toBeUndefined(); // outside the window, a free lock is not taken
    expect((await view.snapshot()).semaphore.holders).toEqual([]);
    await clock.advance(23 * 3_600_000); // Wednesday 02:00
    await deciding;
    expect(decision).toBe('reboot');
    expect((await view.snapshot()).semaphore.holders).toEqual(['w']);
    await s.afterHealthyBoot(ctx());
  });

  it('does not sit on a lock held from before while waiting for a window', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12));
    const view = observer('pending');
    await view.lock('p', { liveness: true });
    const s = strategy('pending', 'p', { clock, windows: '02:00 1h' });
    await s.atStart(ctx(), 'reboot-pending');
    expect(await s.lockHeld()).toBe(true);
    let decision: string | undefined;
    const deciding = s.beforeReboot(ctx()).then((d) => (decision = d));
    await until(() => clock.pendingSleeps > 0, 'the window wait');
    expect((await view.snapshot()).semaphore.holders).toEqual([]);
    await clock.advance(14 * 3_600_000);
    await deciding;
    expect(decision).toBe('reboot');
    expect((await view.snapshot()).semaphore.holders).toEqual(['p']);
    await s.afterHealthyBoot(ctx());
  });

  it('re-checks the window after taking the lock and gives it back when it closed meanwhile', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 2, 59)); // Monday 02:59 UTC, one minute of window left
    const view = observer('recheck');
    let locks = 0;
    // The lock commit "takes" long: the wall clock passes the window's end while it is in flight.
    const slow = (store: LockStore): LockStore =>
      Object.assign(Object.create(store) as LockStore, {
        commit: async (...args: Parameters<LockStore['commit']>) => {
          const ok = await store.commit(...args);
          if (ok && args[1].some((o) => o.op === 'put' && o.key.includes('/holders/')) && locks++ === 0) clock.setWallTime(Date.UTC(2024, 0, 1, 3, 1));
          return ok;
        },
      });
    const s = strategy('recheck', 'r', { clock, windows: '02:00 1h', wrap: slow });
    let decision: string | undefined;
    const deciding = s.beforeReboot(ctx()).then((d) => (decision = d));
    // The wait for the next window sleeps in 10-minute steps (the window-closing timer sleeps 1 minute).
    await until(() => locks === 1 && clock.sleepLog.includes(600_000), 'the first lock and the wait for the next window');
    expect((await view.snapshot()).semaphore.holders).toEqual([]); // given back
    expect(decision).toBeUndefined();
    await clock.advance(23 * 3_600_000);
    await deciding;
    expect(decision).toBe('reboot');
    expect(locks).toBe(2);
    await s.afterHealthyBoot(ctx());
  });

  it('stops waiting when aborted, holding nothing', async () => {
    const view = observer('abort');
    await view.lock('other');
    const s = strategy('abort', 'x');
    const ac = new AbortController();
    const deciding = s.beforeReboot(ctx(ac.signal));
    await until(async () => (await view.snapshot()).waiters.includes('x'), 'x to queue');
    ac.abort(new Error('a newer update replaces the pending one'));
    await expect(deciding).rejects.toThrow('a newer update replaces the pending one');
    const snap = await view.snapshot();
    expect([snap.semaphore.holders, snap.waiters]).toEqual([['other'], []]);
  });
});
