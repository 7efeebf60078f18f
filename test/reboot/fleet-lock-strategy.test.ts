import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRebootWindows } from '../../src/config/values.ts';
import { FleetLockClient } from '../../src/lock/fleet-lock-client.ts';
import { FleetLockStrategy } from '../../src/reboot/fleet-lock-strategy.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { startFleetLockServer, type FleetLockServer } from '../lock/fleet-lock-server.ts';

let server: FleetLockServer;
beforeAll(async () => {
  server = await startFleetLockServer(1);
});
afterAll(async () => {
  await server?.close();
});

function node(id: string, clock: FakeClock, windows = '') {
  return new FleetLockStrategy({
    client: new FleetLockClient({ baseUrl: server.url, id, group: 'workers' }),
    schedule: { windows: windows ? parseRebootWindows(windows) : [], timeZone: 'UTC' },
    clock,
    logger: silentLogger(),
    url: server.url,
    retryInitialMs: 10_000,
    retryCeilingMs: 40_000,
    random: () => 1,
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ctx = { signal: new AbortController().signal };

describe('fleet-lock strategy against a FleetLock server', () => {
  it('reports steady state at start, retries pre-reboot with backoff, and gives the slot back after the boot', async () => {
    const clock = new FakeClock();
    const a = node('a', clock);
    const b = node('b', clock);
    await a.atStart(ctx, 'idle');
    expect(server.requests.at(-1)?.path).toBe('/v1/steady-state');
    expect(await a.beforeReboot(ctx)).toBe('reboot');
    expect(await a.lockHeld()).toBe(true);
    let decision: string | undefined;
    const deciding = b.beforeReboot(ctx).then((d) => (decision = d));
    await until(() => clock.pendingSleeps > 0, 'b to back off');
    await clock.advance(10_000);
    await until(() => clock.pendingSleeps > 0, 'b to back off again');
    await clock.advance(20_000);
    await until(() => clock.pendingSleeps > 0, 'b to back off a third time');
    expect(clock.sleepLog).toEqual([10_000, 20_000, 40_000]);
    await a.afterHealthyBoot(ctx);
    expect(await a.lockHeld()).toBe(false);
    await clock.advance(40_000);
    await deciding;
    expect(decision).toBe('reboot');
    expect([...(server.holders.get('workers') ?? [])]).toEqual(['b']);
    await b.afterRollback(ctx);
    expect([...(server.holders.get('workers') ?? [])]).toEqual([]);
  });

  it('keeps its slot at start after a reboot, and waits for the window', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12));
    const c = node('c', clock, '02:00 1h');
    const before = server.requests.length;
    await c.atStart(ctx, 'post-boot');
    expect(server.requests.length).toBe(before); // nothing sent: the slot stays held until the health gate
    let decision: string | undefined;
    const deciding = c.beforeReboot(ctx).then((d) => (decision = d));
    await until(() => clock.pendingSleeps > 0, 'the window wait');
    expect(server.requests.length).toBe(before);
    await clock.advance(14 * 3_600_000);
    await deciding;
    expect(decision).toBe('reboot');
    await c.afterHealthyBoot(ctx);
  });
});
