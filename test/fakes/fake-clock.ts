// FakeClock: a Clock (src/platform/clock.ts) with manual time for tests. Sleeps resolve only when
// advance() moves time past their deadline, in deadline order; aborting a sleep rejects it at once.

import type { Clock } from '../../src/platform/clock.ts';

interface Sleeper {
  dueMs: number;
  seq: number;
  resolve: () => void;
}

/** Lets pending promise callbacks run (several rounds, so chains of awaits settle). */
export async function flushMicrotasks(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private monotonic = 0;
  private wall: number;
  private seq = 0;
  private sleepers: Sleeper[] = [];
  /** Every sleep requested, in order (milliseconds as asked). */
  readonly sleepLog: number[] = [];

  constructor(wallStartMs = Date.UTC(2024, 0, 1)) {
    this.wall = wallStartMs;
  }

  now(): number {
    return this.wall;
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  /** Sleeps that have not resolved yet. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleepLog.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const sleeper: Sleeper = { dueMs: this.monotonic + Math.max(0, ms), seq: this.seq++, resolve: () => {} };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      sleeper.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /**
   * Moves time forward by `ms`, waking each sleeper whose deadline is reached, in deadline order, and
   * letting the woken code run (it may sleep again and be woken within the same advance).
   */
  async advance(ms: number): Promise<void> {
    const target = this.monotonic + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.nextSleeper();
      if (!next || next.dueMs > target) break;
      this.moveTo(next.dueMs);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
      await flushMicrotasks();
    }
    this.moveTo(target);
    await flushMicrotasks();
  }

  /** Moves time to the next sleeper's deadline and wakes it; false when nothing sleeps. */
  async runNext(): Promise<boolean> {
    await flushMicrotasks();
    const next = this.nextSleeper();
    if (!next) return false;
    await this.advance(next.dueMs - this.monotonic);
    return true;
  }

  /** Sets the wall clock (monotonic time is unaffected, as when the system clock is changed). */
  setWallTime(ms: number): void {
    this.wall = ms;
  }

  private moveTo(monotonicMs: number): void {
    if (monotonicMs <= this.monotonic) return;
    this.wall += monotonicMs - this.monotonic;
    this.monotonic = monotonicMs;
  }

  private nextSleeper(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.sleepers) {
      if (!best || s.dueMs < best.dueMs || (s.dueMs === best.dueMs && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
