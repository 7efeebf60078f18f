import { describe, expect, it } from 'vitest';
import type { HolderView } from '../../src/lock/lock-snapshot.ts';
import { StaleHolderTracker } from '../../src/lock/stale-holders.ts';

/** liveness null: no holder record at all. */
const holder = (id: string, alive: boolean, liveness: boolean | null = true): HolderView => ({
  id,
  alive,
  record: liveness === null ? undefined : { lockedAtMs: 0, liveness },
});

describe('StaleHolderTracker', () => {
  it('times the absence from its own first sighting and evicts only after the whole period', () => {
    const t = new StaleHolderTracker(1000);
    expect(t.observe([holder('a', false)], 5000)).toEqual({ evict: [], nextDeadlineMs: 6000 });
    expect(t.observe([holder('a', false)], 5999)).toEqual({ evict: [], nextDeadlineMs: 6000 });
    expect(t.observe([holder('a', false)], 6000)).toEqual({ evict: [{ id: 'a', goneForMs: 1000 }], nextDeadlineMs: undefined });
  });

  it('restarts the timing when the liveness key comes back', () => {
    const t = new StaleHolderTracker(1000);
    t.observe([holder('a', false)], 0);
    t.observe([holder('a', true)], 900);
    expect(t.observe([holder('a', false)], 1500)).toEqual({ evict: [], nextDeadlineMs: 2500 });
  });

  it.each([
    ['a manual lock (liveness not promised)', holder('m', false, false)],
    ['a holder without a record (locksmith)', holder('l', false, null)],
    ['a live holder', holder('x', true)],
  ])('never evicts %s', (_name, h) => {
    const t = new StaleHolderTracker(10);
    t.observe([h], 0);
    expect(t.observe([h], 1_000_000)).toEqual({ evict: [], nextDeadlineMs: undefined });
  });

  it('gives the earliest deadline of several holders and forgets holders that left', () => {
    const t = new StaleHolderTracker(1000);
    t.observe([holder('a', false)], 0);
    expect(t.observe([holder('a', false), holder('b', false)], 500).nextDeadlineMs).toBe(1000);
    t.observe([holder('b', false)], 600); // a unlocked
    expect(t.observe([holder('a', false), holder('b', false)], 1200)).toEqual({ evict: [], nextDeadlineMs: 1500 });
    t.forget('b');
    expect(t.observe([holder('b', false)], 1300).nextDeadlineMs).toBe(2300);
  });

  it('is off with 0 (the default of LOCK_STALE_AFTER)', () => {
    const t = new StaleHolderTracker(0);
    expect(t.enabled).toBe(false);
    expect(t.observe([holder('a', false)], 0)).toEqual({ evict: [], nextDeadlineMs: undefined });
    expect(t.observe([holder('a', false)], 1e12).evict).toEqual([]);
  });
});
