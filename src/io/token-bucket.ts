// TokenBucket: pure rate arithmetic (GCRA, a token bucket seen as a virtual schedule) for IO_WRITE_BPS
// and DOWNLOAD_BPS. take(n) resolves once n more bytes are within the rate, so a caller that waits
// before passing bytes on never exceeds bytesPerSecond (plus burstBytes, 0 by default) over any span.

import { UpdateEngineError } from '../errors.ts';
import { systemClock, type Clock } from '../platform/clock.ts';

/**
 * How late a timer may wake without the rate being lost: the throttles give their bucket this much
 * burst (25 ms worth of bytes), so a busy event loop does not cost throughput, at the price of at most
 * 2.5% above the rate over any 1 s window. Waiters are served one after another (see
 * ThrottledWriteTarget), so a stall never releases more than this at once.
 */
export const LATENESS_ALLOWANCE_MS = 25;

/** The burst that absorbs LATENESS_ALLOWANCE_MS of timer lateness at `bytesPerSecond`. */
export function latenessAllowanceBytes(bytesPerSecond: number): number {
  return Math.floor((bytesPerSecond * LATENESS_ALLOWANCE_MS) / 1000);
}

export interface TokenBucketOptions {
  bytesPerSecond: number;
  /** Bytes that may go out ahead of the rate after an idle spell (0: none, never above the rate). */
  burstBytes?: number;
  clock?: Clock | undefined;
}

export class TokenBucket {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  private readonly clock: Clock;
  private readonly burstMs: number;
  /** When every byte reserved so far will have been earned (monotonic ms); undefined before the first. */
  private earnedAtMs: number | undefined;

  constructor(options: TokenBucketOptions) {
    if (!(options.bytesPerSecond > 0) || !Number.isFinite(options.bytesPerSecond)) {
      throw new UpdateEngineError('ERR_INTERNAL', `Token bucket rate must be a positive number of bytes per second, not ${options.bytesPerSecond}`);
    }
    this.bytesPerSecond = options.bytesPerSecond;
    this.burstBytes = Math.max(0, options.burstBytes ?? 0);
    this.clock = options.clock ?? systemClock;
    this.burstMs = (this.burstBytes * 1000) / this.bytesPerSecond;
  }

  /** How long `bytes` take at the rate, in milliseconds. */
  durationMs(bytes: number): number {
    return (bytes * 1000) / this.bytesPerSecond;
  }

  /**
   * Reserves `bytes` and returns how many milliseconds to wait before passing them on. Reservations
   * queue up: each one starts where the previous ended (or now, after an idle spell; idle time is not
   * saved up beyond burstBytes).
   */
  reserve(bytes: number): number {
    const nowMs = this.clock.monotonicMs();
    const startMs = Math.max(this.earnedAtMs ?? nowMs, nowMs);
    const endMs = startMs + this.durationMs(bytes);
    this.earnedAtMs = endMs;
    return Math.max(0, endMs - nowMs - this.burstMs);
  }

  /** Reserves `bytes` and waits until they are within the rate (rejects when the signal aborts). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const waitMs = this.reserve(bytes);
    if (waitMs > 0) await this.clock.sleep(waitMs, signal);
    else if (signal?.aborted) throw signal.reason;
  }

  /** Milliseconds until the reserved bytes are all earned (0 when idle). */
  backlogMs(): number {
    return this.earnedAtMs === undefined ? 0 : Math.max(0, this.earnedAtMs - this.clock.monotonicMs());
  }
}

/** The default slice of a paced write: small enough for a smooth rate, large enough to keep the overhead low. */
export function defaultSliceBytes(bytesPerSecond: number): number {
  return Math.min(1 << 20, Math.max(4096, Math.floor(bytesPerSecond / 20)));
}
