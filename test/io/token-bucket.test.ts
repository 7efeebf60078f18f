// TokenBucket arithmetic with a fake clock: waits, queueing, idle spells, burst, and a property test
// that no span of released bytes ever runs above the rate.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { latenessAllowanceBytes, TokenBucket } from '../../src/io/token-bucket.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

describe('TokenBucket', () => {
  it('makes each reservation wait until its bytes are earned at the rate', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 1000, clock });
    expect(bucket.reserve(500)).toBe(500);
    expect(bucket.reserve(250)).toBe(750); // queued behind the first
    expect(bucket.backlogMs()).toBe(750);
  });

  it('does not save up idle time without a burst', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 2000, clock });
    expect(bucket.reserve(1000)).toBe(500);
    await clock.advance(10_000);
    expect(bucket.backlogMs()).toBe(0);
    expect(bucket.reserve(1000)).toBe(500);
  });

  it('lets burstBytes go ahead after an idle spell, and no more', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 1000, burstBytes: 300, clock });
    expect(bucket.reserve(300)).toBe(0);
    expect(bucket.reserve(100)).toBe(100);
    await clock.advance(5000);
    expect(bucket.reserve(200)).toBe(0);
    expect(bucket.reserve(200)).toBe(100);
  });

  it('take() sleeps on the clock for the reserved time', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 4096, clock });
    let done = false;
    const p = bucket.take(8192).then(() => (done = true));
    await clock.advance(1999);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);
    expect(clock.sleepLog).toEqual([2000]);
  });

  it('take() rejects with the abort reason', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 10, clock });
    const ac = new AbortController();
    const p = bucket.take(100, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket({ bytesPerSecond: 0 })).toThrow(/positive/);
    expect(() => new TokenBucket({ bytesPerSecond: Number.NaN })).toThrow(/positive/);
  });

  it('never releases more than rate x span (+ burst) over any span of a random schedule', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.record({ bytes: fc.integer({ min: 1, max: 200_000 }), gapMs: fc.integer({ min: 0, max: 500 }) }), { minLength: 1, maxLength: 60 }),
        (rate, burst, steps) => {
          // A caller that idles for gapMs, requests, waits as told, then releases the bytes.
          let now = 0;
          const clock = { now: () => now, monotonicMs: () => now, sleep: async () => {} };
          const bucket = new TokenBucket({ bytesPerSecond: rate, burstBytes: burst, clock });
          const released: { atMs: number; bytes: number }[] = [];
          for (const step of steps) {
            now += step.gapMs;
            now += bucket.reserve(step.bytes);
            released.push({ atMs: now, bytes: step.bytes });
          }
          for (let i = 0; i < released.length; i++) {
            let sum = 0;
            for (let j = i + 1; j < released.length; j++) {
              sum += (released[j] as { bytes: number }).bytes;
              const spanMs = (released[j] as { atMs: number }).atMs - (released[i] as { atMs: number }).atMs;
              expect(sum).toBeLessThanOrEqual((rate * spanMs) / 1000 + burst + 1e-6 * sum + 1);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reaches the rate exactly over a long busy run', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ bytesPerSecond: 40 * 1024 * 1024, clock });
    let waitMs = 0;
    for (let i = 0; i < 400; i++) waitMs = bucket.reserve(256 * 1024);
    // 400 x 256 KiB = 100 MiB at 40 MiB/s = 2.5 s.
    expect(waitMs).toBeCloseTo(2500, 6);
  });

  it('with the lateness allowance, a waiter that wakes up to 25 ms late loses no time; later than that, it does', () => {
    expect(latenessAllowanceBytes(40 * 1024 * 1024)).toBe(1_048_576);
    let now = 0;
    const clock = { now: () => now, monotonicMs: () => now, sleep: async () => {} };
    const rate = 1000;
    const bucket = new TokenBucket({ bytesPerSecond: rate, burstBytes: latenessAllowanceBytes(rate), clock });
    // 20 slices of 100 bytes, each waiter waking 20 ms late: still done at 2 s (- the 25 ms allowance).
    let releasedAt = 0;
    for (let i = 0; i < 20; i++) {
      now += bucket.reserve(100);
      releasedAt = now;
      now += 20;
    }
    expect(releasedAt).toBe(2000 - 25);
    // Waking 60 ms late each time: 35 ms lost per slice, never made up by a burst.
    const late = new TokenBucket({ bytesPerSecond: rate, burstBytes: latenessAllowanceBytes(rate), clock });
    now = 0;
    for (let i = 0; i < 20; i++) {
      now += late.reserve(100);
      releasedAt = now;
      now += 60;
    }
    expect(releasedAt).toBe(2000 - 25 + 19 * 35);
  });
});
