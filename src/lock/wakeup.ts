// A wake-up latch for watch-driven waiting: a watch callback calls notify(); the waiting loop calls
// wait(timeoutMs) and gets 'change' (at once if a change came while it was busy), 'timeout', or the
// abort reason. Timers go through the Clock port, so tests can drive them with a fake clock.

import type { Clock } from '../platform/clock.ts';

export type WakeReason = 'change' | 'timeout';

export class Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;
  /** Changes notified since construction (for tests and the benchmark). */
  notifications = 0;

  constructor(private readonly clock: Clock) {}

  /** Records a change; wakes the waiter now or makes its next wait() return at once. */
  notify(): void {
    this.notifications += 1;
    if (this.wake) this.wake();
    else this.pending = true;
  }

  /** Resolves with 'change' on notify(), 'timeout' after timeoutMs; rejects with signal.reason when aborted. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('change');
    }
    const timer = new AbortController();
    const sleepSignal = signal ? AbortSignal.any([timer.signal, signal]) : timer.signal;
    return new Promise<WakeReason>((resolve, reject) => {
      let settled = false;
      const finish = (reason: WakeReason) => {
        if (settled) return;
        settled = true;
        this.wake = undefined;
        timer.abort();
        resolve(reason);
      };
      this.wake = () => finish('change');
      this.clock.sleep(Math.max(0, timeoutMs), sleepSignal).then(
        () => finish('timeout'),
        (e: unknown) => {
          if (settled) return;
          settled = true;
          this.wake = undefined;
          reject(signal?.aborted ? signal.reason : e);
        },
      );
    });
  }
}
