import { describe, expect, it } from 'vitest';
import { Wakeup } from '../../src/lock/wakeup.ts';
import { FakeClock, flushMicrotasks } from '../fakes/fake-clock.ts';

describe('Wakeup', () => {
  it('wakes a waiter on notify, before its timeout', async () => {
    const clock = new FakeClock();
    const w = new Wakeup(clock);
    const p = w.wait(1000);
    await flushMicrotasks();
    w.notify();
    await expect(p).resolves.toBe('change');
    expect(clock.pendingSleeps).toBe(0); // the timer was cancelled
  });

  it('returns at once for a change notified while nobody waited, once', async () => {
    const clock = new FakeClock();
    const w = new Wakeup(clock);
    w.notify();
    w.notify();
    await expect(w.wait(1000)).resolves.toBe('change');
    const p = w.wait(1000);
    await clock.advance(1000);
    await expect(p).resolves.toBe('timeout');
    expect(w.notifications).toBe(2);
  });

  it('times out through the clock', async () => {
    const clock = new FakeClock();
    const w = new Wakeup(clock);
    let result: string | undefined;
    const p = w.wait(500).then((r) => (result = r));
    await clock.advance(499);
    expect(result).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(result).toBe('timeout');
  });

  it('rejects with the abort reason', async () => {
    const clock = new FakeClock();
    const w = new Wakeup(clock);
    const ac = new AbortController();
    const p = w.wait(1000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(w.wait(10, ac.signal)).rejects.toThrow('stop');
    // A notify after the abort is kept for the next wait.
    w.notify();
    await expect(w.wait(10)).resolves.toBe('change');
  });
});
