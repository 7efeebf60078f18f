// Tests of the check cadence (pure, seeded random), the cron matcher, and the CheckScheduler runner
// driven by a FakeClock: timing of checks, back-off, on-demand checks, no overlap, stop.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRON_RECHECK_MS, CheckScheduler, CronMatcher, planNextCheck, type CheckOutcome } from '../../src/daemon/scheduler.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { checkOutcomeOf } from '../../src/daemon/main.ts';
import type { CycleOutcome } from '../../src/daemon/update-cycle.ts';
import { FakeClock, flushMicrotasks } from '../fakes/fake-clock.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** mulberry32: a small seeded PRNG, so that every run sees the same "random" delays. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const middle = () => 0.5;

describe('planNextCheck', () => {
  it.each([
    ['first check after start', {}, 7 * MIN, 10 * MIN],
    ['after a good check', { lastIntervalMs: 45 * MIN }, 45 * MIN, 10 * MIN],
    ['after a non-server error', { lastIntervalMs: 45 * MIN, lastHttpStatus: 404 }, 45 * MIN, 10 * MIN],
    ['after a 500 following the first check', { lastIntervalMs: 7 * MIN, lastHttpStatus: 500 }, 45 * MIN, 10 * MIN],
    ['after a 500', { lastIntervalMs: 45 * MIN, lastHttpStatus: 500 }, 90 * MIN, 90 * MIN],
    ['after a second 503', { lastIntervalMs: 90 * MIN, lastHttpStatus: 503 }, 180 * MIN, 180 * MIN],
    ['capped at 4 h', { lastIntervalMs: 180 * MIN, lastHttpStatus: 503 }, 4 * HOUR, 4 * HOUR],
    ['server PollInterval of 1 h', { lastIntervalMs: 45 * MIN, pollIntervalMs: HOUR }, HOUR, HOUR],
    ['server PollInterval below 45 min', { lastIntervalMs: 45 * MIN, pollIntervalMs: 10 * MIN }, 45 * MIN, 10 * MIN],
    ['server PollInterval above 4 h', { lastIntervalMs: 45 * MIN, pollIntervalMs: 10 * HOUR }, 4 * HOUR, 4 * HOUR],
    ['PollInterval wins over a 500', { lastIntervalMs: 2 * HOUR, lastHttpStatus: 500, pollIntervalMs: HOUR }, HOUR, HOUR],
  ])('%s', (_name, input, intervalMs, fuzzMs) => {
    const low = planNextCheck(input, () => 0);
    const mid = planNextCheck(input, middle);
    const high = planNextCheck(input, () => 1 - Number.EPSILON);
    expect(mid).toEqual({ intervalMs, fuzzMs, delayMs: intervalMs });
    expect(low.delayMs).toBe(intervalMs - fuzzMs / 2);
    expect(high.delayMs).toBe(intervalMs + fuzzMs / 2);
  });

  it('first check: 7 min +/- 5 for any random value, spread over the whole range', () => {
    const random = seededRandom(42);
    const delays = Array.from({ length: 2000 }, () => planNextCheck({}, random).delayMs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2 * MIN);
    expect(Math.max(...delays)).toBeLessThanOrEqual(12 * MIN);
    expect(Math.min(...delays)).toBeLessThan(2.1 * MIN);
    expect(Math.max(...delays)).toBeGreaterThan(11.9 * MIN);
  });

  it('after the first check: interval within [45 min, 4 h], delay within its fuzz, never below 22.5 min nor above 6 h', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 * HOUR }),
        fc.option(fc.constantFrom(200, 404, 500, 503), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 48 * HOUR }), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (lastIntervalMs, lastHttpStatus, pollIntervalMs, r) => {
          const { intervalMs, fuzzMs, delayMs } = planNextCheck({ lastIntervalMs, lastHttpStatus, pollIntervalMs }, () => r);
          expect(intervalMs).toBeGreaterThanOrEqual(45 * MIN);
          expect(intervalMs).toBeLessThanOrEqual(4 * HOUR);
          expect(fuzzMs).toBe(intervalMs === 45 * MIN ? 10 * MIN : intervalMs);
          expect(Math.abs(delayMs - intervalMs)).toBeLessThanOrEqual(fuzzMs / 2);
          return delayMs >= 22.5 * MIN && delayMs <= 6 * HOUR;
        },
      ),
    );
  });
});

describe('CronMatcher', () => {
  const at = (d: number, h: number, m: number, s = 0) => new Date(2024, 0, d, h, m, s).getTime();
  it.each([
    ['*/30 * * * *', at(1, 10, 10), at(1, 10, 30)],
    ['*/30 * * * *', at(1, 10, 30), at(1, 11, 0)],
    ['0 4 * * Thu', at(1, 10, 0), at(4, 4, 0)],
    ['15 */20 * * * *', at(1, 10, 0, 16), at(1, 10, 20, 15)],
    ['0 0 1 * *', at(1, 0, 0), new Date(2024, 1, 1).getTime()],
  ])('%s after %s', (expression, afterMs, expected) => {
    const m = new CronMatcher(expression);
    try {
      expect(new Date(m.nextAfter(afterMs) as number)).toEqual(new Date(expected));
    } finally {
      m.dispose();
    }
  });

  it('finds nothing within 5 years for a Monday 29 February (next: 2044), and rejects a bad expression', () => {
    const m = new CronMatcher('0 0 29 2 Mon');
    expect(m.nextAfter(at(1, 0, 0))).toBeUndefined();
    expect(new Date(m.nextAfter(new Date(2043, 0, 1).getTime()) as number)).toEqual(new Date(2044, 1, 29));
    m.dispose();
    const never = new CronMatcher('0 0 30 2 *');
    expect(never.nextAfter(at(1, 0, 0))).toBeUndefined();
    never.dispose();
    expect(() => new CronMatcher('* * * * * * 2030')).toThrow(/expected 5 fields \(or 6 with seconds first\), got 7/);
    expect(() => new CronMatcher('every day')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_VALUE', message: expect.stringContaining('CHECK_SCHEDULE "every day"') }),
    );
  });
});

/** A scheduler whose checks are recorded and can be held open. */
function harness(options: { cron?: string; outcomes?: Array<CheckOutcome | Error>; startMs?: number; random?: () => number } = {}) {
  const clock = new FakeClock(options.startMs);
  const calls: Array<{ reason: string; atMs: number }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  let hold: Promise<void> | undefined;
  const outcomes = [...(options.outcomes ?? [])];
  const signals: AbortSignal[] = [];
  const scheduler = new CheckScheduler({
    clock,
    cronExpression: options.cron,
    random: options.random ?? middle,
    onCheck: async (reason, signal) => {
      calls.push({ reason, atMs: clock.monotonicMs() });
      signals.push(signal);
      concurrent += 1;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        if (hold) await hold;
        const next = outcomes.shift();
        if (next instanceof Error) throw next;
        return next;
      } finally {
        concurrent -= 1;
      }
    },
  });
  return {
    clock,
    scheduler,
    calls,
    signals,
    maxConcurrent: () => maxConcurrent,
    holdChecks() {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

describe('CheckScheduler', () => {
  it('checks 7 min after start, then every 45 min, doubling after server errors', async () => {
    const server500 = new UpdateEngineError('ERR_OMAHA_HTTP', 'HTTP 500', { httpStatus: 500 });
    const h = harness({ outcomes: [{}, server500, { httpStatus: 503 }, {}, {}] });
    h.scheduler.start();
    await h.clock.advance(7 * MIN - 1);
    expect(h.calls).toEqual([]);
    await h.clock.advance(1);
    expect(h.calls).toEqual([{ reason: 'scheduled', atMs: 7 * MIN }]);
    await h.clock.advance(45 * MIN + 90 * MIN + 180 * MIN + 45 * MIN);
    expect(h.calls.map((c) => c.atMs / MIN)).toEqual([7, 52, 142, 322, 367]);
    expect(h.clock.sleepLog.map((ms) => ms / MIN)).toEqual([7, 45, 90, 180, 45, 45]);
    await h.scheduler.stop();
  });

  it('a rollout refusal keeps the 45 min cadence; a server or configuration error (an error-* status) doubles it', async () => {
    const refused: CycleOutcome = { kind: 'refused', reason: 'error-maxConcurrentUpdatesLimitReached', explanation: '' };
    const configError: CycleOutcome = { kind: 'failed', error: new UpdateEngineError('ERR_OMAHA_SERVER_ERROR', 'unknown app'), checkFailed: true };
    const h = harness({
      outcomes: [checkOutcomeOf(refused), checkOutcomeOf(refused), checkOutcomeOf(configError), checkOutcomeOf(configError), checkOutcomeOf(refused)],
    });
    h.scheduler.start();
    await h.clock.advance(7 * MIN + 45 * MIN + 45 * MIN + 90 * MIN + 180 * MIN);
    expect(h.clock.sleepLog.map((ms) => ms / MIN)).toEqual([7, 45, 45, 90, 180, 45]);
    await h.scheduler.stop();
  });

  it('honours the server PollInterval', async () => {
    const h = harness({ outcomes: [{ pollIntervalMs: 2 * HOUR }] });
    h.scheduler.start();
    await h.clock.advance(7 * MIN);
    expect(h.clock.sleepLog.map((ms) => ms / MIN)).toEqual([7, 120]);
    expect(h.scheduler.nextCheckAtMs).toBe(h.clock.now() + 2 * HOUR);
    await h.scheduler.stop();
  });

  it('runs an on-demand check at once, never two at a time, then restarts the schedule', async () => {
    const h = harness();
    expect(h.scheduler.checkNow()).toBe('stopped');
    h.scheduler.start();
    await h.clock.advance(MIN);
    const release = h.holdChecks();
    expect(h.scheduler.checkNow()).toBe('started');
    await flushMicrotasks();
    expect(h.calls).toEqual([{ reason: 'on-demand', atMs: MIN }]);
    expect(h.scheduler.busy).toBe(true);
    expect(h.scheduler.checkNow()).toBe('busy');
    await h.clock.advance(3 * HOUR);
    expect(h.calls).toHaveLength(1);
    release();
    await flushMicrotasks();
    expect(h.scheduler.busy).toBe(false);
    await h.clock.advance(45 * MIN);
    expect(h.calls.map((c) => `${c.reason}@${c.atMs / MIN}`)).toEqual(['on-demand@1', 'scheduled@226']);
    expect(h.maxConcurrent()).toBe(1);
    await h.scheduler.stop();
  });

  it('stop() aborts the running check and ends the schedule', async () => {
    const h = harness();
    h.scheduler.start();
    const release = h.holdChecks();
    await h.clock.advance(7 * MIN);
    expect(h.calls).toHaveLength(1);
    const stopped = h.scheduler.stop();
    expect(h.signals[0]?.aborted).toBe(true);
    release();
    await stopped;
    await h.clock.advance(10 * HOUR);
    expect(h.calls).toHaveLength(1);
    expect(h.clock.pendingSleeps).toBe(0);
    expect(h.scheduler.checkNow()).toBe('stopped');
  });

  it('with CHECK_SCHEDULE, checks at the cron times (waiting in pieces of at most an hour)', async () => {
    const h = harness({ cron: '0 4 * * *', startMs: new Date(2024, 0, 1, 1, 30).getTime() });
    h.scheduler.start();
    expect(h.scheduler.nextCheckAtMs).toBe(new Date(2024, 0, 1, 4, 0).getTime());
    await h.clock.advance(150 * MIN);
    expect(h.calls).toHaveLength(1);
    expect(new Date(h.clock.now())).toEqual(new Date(2024, 0, 1, 4, 0));
    expect(h.clock.sleepLog.slice(0, 3)).toEqual([CRON_RECHECK_MS, CRON_RECHECK_MS, 30 * MIN]);
    await h.clock.advance(24 * HOUR);
    expect(h.calls).toHaveLength(2);
    await h.scheduler.stop();
  });

  it('refuses a cron schedule that never matches', () => {
    expect(() => new CheckScheduler({ clock: new FakeClock(), cronExpression: '0 0 29 2 Mon', onCheck: async () => undefined })).toThrow(/never matches/);
  });
});
