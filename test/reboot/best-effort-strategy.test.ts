import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { BestEffortStrategy } from '../../src/reboot/best-effort-strategy.ts';
import { EtcdLockStrategy } from '../../src/reboot/etcd-lock-strategy.ts';
import { ImmediateRebootStrategy } from '../../src/reboot/immediate-reboot-strategy.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const c of closers) await c();
  await etcd?.stop();
});

function bestEffort(endpoints: string[], machineId: string) {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const logger = createLogger({ destination: sink, pretty: false });
  const schedule = { windows: [], timeZone: 'UTC' };
  const etcdStrategy = new EtcdLockStrategy({
    schedule,
    clock: systemClock,
    logger,
    machineId,
    group: 'best',
    staleAfterMs: 0,
    openStore: async () => new EtcdLockStore({ endpoints, callTimeoutMs: 1000 }),
    storeDescription: endpoints.join(','),
  });
  const s = new BestEffortStrategy({
    etcd: etcdStrategy,
    immediate: new ImmediateRebootStrategy({ schedule, clock: systemClock, logger }),
    logger,
    storeDescription: endpoints.join(','),
    probeTimeoutMs: 1000,
  });
  closers.push(() => s.close());
  return { s, lines };
}

const ctx = { signal: new AbortController().signal };

describe('best-effort strategy', () => {
  it('takes the etcd lock when etcd answers, and says so', async () => {
    const { s, lines } = bestEffort(etcd.endpoints, 'be-1');
    expect(await s.beforeReboot(ctx)).toBe('reboot');
    const store = new EtcdLockStore({ endpoints: etcd.endpoints });
    closers.push(() => store.close());
    const view = new SemaphoreClient({ store, group: 'best', clock: systemClock });
    expect((await view.snapshot()).semaphore.holders).toEqual(['be-1']);
    expect(lines.some((l) => l.msg.startsWith('best-effort: etcd answers'))).toBe(true);
    expect(await s.lockHeld()).toBe(true);
    await s.afterHealthyBoot(ctx);
    expect((await view.snapshot()).semaphore.holders).toEqual([]);
  });

  it('reboots without a lock when etcd does not answer, and says why', async () => {
    const { s, lines } = bestEffort(['http://127.0.0.1:1'], 'be-2');
    await s.atStart(ctx, 'idle');
    expect(await s.beforeReboot(ctx)).toBe('reboot');
    const warning = lines.find((l) => l.msg.startsWith('best-effort: etcd does not answer; rebooting without a lock'));
    expect(warning).toMatchObject({ level: 40, endpoints: 'http://127.0.0.1:1', reason: expect.stringContaining('Cannot') });
    await s.afterHealthyBoot(ctx); // nothing to release, no error
    expect(await s.lockHeld()).toBe(false);
  });
});
