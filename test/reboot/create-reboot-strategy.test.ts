import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { BestEffortStrategy } from '../../src/reboot/best-effort-strategy.ts';
import { createRebootStrategy } from '../../src/reboot/create-reboot-strategy.ts';
import { EtcdLockStrategy } from '../../src/reboot/etcd-lock-strategy.ts';
import { FleetLockStrategy } from '../../src/reboot/fleet-lock-strategy.ts';
import { ImmediateRebootStrategy } from '../../src/reboot/immediate-reboot-strategy.ts';
import { OffStrategy } from '../../src/reboot/off-strategy.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

const deps = { machineId: 'm1', clock: systemClock, logger: silentLogger() };
const settings = (raw: Record<string, string>) => settingsSchema.parse(raw);

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

describe('createRebootStrategy', () => {
  it.each([
    ['reboot', ImmediateRebootStrategy],
    ['off', OffStrategy],
    ['etcd-lock', EtcdLockStrategy],
    ['best-effort', BestEffortStrategy],
  ])('REBOOT_STRATEGY=%s', (name, type) => {
    const s = createRebootStrategy(settings({ rebootStrategy: name }), deps);
    expect(s).toBeInstanceOf(type);
    expect(s.name).toBe(name);
  });

  it('builds fleet-lock from FLEET_LOCK_URL, and refuses it without one', () => {
    const s = createRebootStrategy(settings({ rebootStrategy: 'fleet-lock', fleetLockUrl: 'http://127.0.0.1:3333/' }), deps);
    expect(s).toBeInstanceOf(FleetLockStrategy);
    expect(s.label).toContain('http://127.0.0.1:3333/');
    const noUrl = { ...settings({}), rebootStrategy: 'fleet-lock' as const };
    expect(() => createRebootStrategy(noUrl, deps)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_VALUE', message: 'REBOOT_STRATEGY=fleet-lock needs FLEET_LOCK_URL' }),
    );
  });

  it('refuses an unknown strategy (settings that bypassed the schema)', () => {
    const bad = { ...settings({}), rebootStrategy: 'sometimes' as unknown as 'off' };
    expect(() => createRebootStrategy(bad, deps)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_VALUE', message: expect.stringContaining('"sometimes"') }),
    );
  });

  it('labels the etcd strategy with its group, endpoints and windows, and reaches etcd with the settings', async () => {
    const s = createRebootStrategy(
      settings({
        rebootStrategy: 'etcd-lock',
        etcdEndpoints: etcd.endpoints.join(','),
        lockGroup: 'web',
        rebootWindowsExtra: 'Sat 04:00 2h',
        rebootTimeZone: 'Europe/Berlin',
      }),
      deps,
    );
    expect(s.label).toBe(`etcd-lock (group "web" at ${etcd.endpoints[0]}; windows: Sat 04:00 for 2h (Europe/Berlin))`);
    try {
      expect(await s.lockHeld()).toBe(false);
      await s.atStart({ signal: new AbortController().signal }, 'idle');
    } finally {
      await s.close();
    }
  });

  it('reports an unreadable etcd CA file when the lock is first used', async () => {
    const s = createRebootStrategy(settings({ rebootStrategy: 'etcd-lock', etcdCaFile: '/nonexistent/ca.pem' }), deps);
    await expect(s.lockHeld()).rejects.toMatchObject({ code: 'ERR_CONFIG_FILE', message: expect.stringContaining('"/nonexistent/ca.pem"') });
    await s.close();
  });
});
