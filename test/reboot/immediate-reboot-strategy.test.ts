import { describe, expect, it } from 'vitest';
import { parseRebootWindows } from '../../src/config/values.ts';
import { ImmediateRebootStrategy } from '../../src/reboot/immediate-reboot-strategy.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

const ctx = { signal: new AbortController().signal };

describe('reboot strategy', () => {
  it('reboots at once without windows, holding no lock', async () => {
    const s = new ImmediateRebootStrategy({ schedule: { windows: [], timeZone: undefined }, clock: new FakeClock(), logger: silentLogger() });
    await s.atStart(ctx, 'idle');
    expect(await s.beforeReboot(ctx)).toBe('reboot');
    expect(await s.lockHeld()).toBe(false);
    expect(s.label).toBe('reboot (windows: any time)');
  });

  it('waits for the next window', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12)); // Monday
    const s = new ImmediateRebootStrategy({ schedule: { windows: parseRebootWindows('Thu 04:00 1h'), timeZone: 'UTC' }, clock, logger: silentLogger() });
    let decision: string | undefined;
    const deciding = s.beforeReboot(ctx).then((d) => (decision = d));
    await clock.advance(2 * 86_400_000 + 15 * 3_600_000); // Wednesday 03:00
    expect(decision).toBeUndefined();
    await clock.advance(3_600_000); // Thursday 04:00
    await deciding;
    expect(decision).toBe('reboot');
    expect(new Date(clock.now()).toISOString()).toBe('2024-01-04T04:00:00.000Z');
  });

  it('stops waiting when aborted', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12));
    const s = new ImmediateRebootStrategy({ schedule: { windows: parseRebootWindows('Thu 04:00 1h'), timeZone: 'UTC' }, clock, logger: silentLogger() });
    const ac = new AbortController();
    const deciding = s.beforeReboot({ signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(deciding).rejects.toThrow('stop');
  });
});
