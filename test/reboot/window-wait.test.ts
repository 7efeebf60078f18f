import { describe, expect, it } from 'vitest';
import { parseRebootWindows } from '../../src/config/values.ts';
import { waitForWindow, windowClosingSignal, WindowClosedError } from '../../src/reboot/window-wait.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

const schedule = (text: string, timeZone = 'UTC') => ({ windows: text ? parseRebootWindows(text) : [], timeZone });

describe('waitForWindow', () => {
  it('returns at once inside a window or with none', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 2, 30));
    await waitForWindow(schedule('02:00 1h'), clock, silentLogger());
    await waitForWindow(schedule(''), clock, silentLogger());
    expect(clock.sleepLog).toEqual([]);
  });

  it('sleeps in chunks of at most 10 minutes until the window opens', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 1, 35));
    let done = false;
    const waiting = waitForWindow(schedule('02:00 1h'), clock, silentLogger()).then(() => (done = true));
    await clock.advance(24 * 60_000);
    expect(done).toBe(false);
    await clock.advance(60_000);
    await waiting;
    expect(clock.sleepLog).toEqual([600_000, 600_000, 300_000]);
  });

  it('notices a wall-clock jump into the window at the next re-check', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 12));
    const waiting = waitForWindow(schedule('02:00 1h'), clock, silentLogger());
    clock.setWallTime(Date.UTC(2024, 0, 2, 2, 5));
    await clock.advance(600_000);
    await waiting;
  });
});

describe('windowClosingSignal', () => {
  it('aborts when the current window closes', async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 1, 2, 30));
    const { signal, dispose } = windowClosingSignal(schedule('02:00 1h'), clock);
    await clock.advance(29 * 60_000);
    expect(signal.aborted).toBe(false);
    await clock.advance(60_000);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(WindowClosedError);
    dispose();
  });

  it('never aborts without windows, and stops its timer on dispose', async () => {
    const clock = new FakeClock();
    const none = windowClosingSignal(schedule(''), clock);
    expect(clock.pendingSleeps).toBe(0);
    none.dispose();
    const some = windowClosingSignal(schedule('00:00 1h'), clock);
    expect(clock.pendingSleeps).toBe(1);
    some.dispose();
    await clock.advance(0);
    expect(clock.pendingSleeps).toBe(0);
    await clock.advance(7_200_000);
    expect(some.signal.aborted).toBe(false);
  });
});
