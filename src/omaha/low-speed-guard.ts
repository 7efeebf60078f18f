// The low-speed abort (curl's LOW_SPEED_LIMIT/TIME, update_engine: below 10 B/s for 90 s): counts
// only the time spent waiting for the network, so a slow consumer (throttled writes) never trips it.

export const DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND = 10;
export const DEFAULT_LOW_SPEED_TIME_MS = 90_000;

/** Thrown when the transfer stayed below the limit for a whole window. */
export class LowSpeedError extends Error {
  constructor(
    readonly bytes: number,
    readonly windowMs: number,
    readonly limitBytesPerSecond: number,
  ) {
    super(`transfer below ${limitBytesPerSecond} B/s for ${windowMs / 1000} s (${bytes} bytes received)`);
  }
}

export class LowSpeedGuard {
  private windowActiveMs = 0;
  private windowBytes = 0;

  constructor(
    private readonly limitBytesPerSecond = DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND,
    private readonly windowMs = DEFAULT_LOW_SPEED_TIME_MS,
  ) {}

  private get thresholdBytes(): number {
    return (this.limitBytesPerSecond * this.windowMs) / 1000;
  }

  /** Closes the window when it is full: too few bytes throws, else a new window starts. */
  private evaluate(): void {
    if (this.windowActiveMs < this.windowMs) return;
    if (this.windowBytes < this.thresholdBytes) throw new LowSpeedError(this.windowBytes, this.windowMs, this.limitBytesPerSecond);
    this.windowActiveMs = 0;
    this.windowBytes = 0;
  }

  /** Counts received bytes (and closes the window if the last wait filled it). */
  add(bytes: number): void {
    this.windowBytes += bytes;
    this.evaluate();
  }

  /** Awaits a network read; rejects with LowSpeedError when the window fills up while waiting with too few bytes. */
  async wait<T>(read: Promise<T>): Promise<T> {
    for (;;) {
      const remainingMs = Math.max(0, this.windowMs - this.windowActiveMs);
      const startedMs = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), remainingMs);
      });
      const outcome = await Promise.race([read.then((value) => ({ value })), timeout]).finally(() => clearTimeout(timer));
      this.windowActiveMs += performance.now() - startedMs;
      if (outcome === 'timeout') {
        this.windowActiveMs = Math.max(this.windowActiveMs, this.windowMs);
        try {
          this.evaluate();
        } catch (e) {
          read.catch(() => undefined);
          throw e;
        }
        continue;
      }
      return outcome.value;
    }
  }
}
