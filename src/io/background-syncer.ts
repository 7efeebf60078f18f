// BackgroundSyncer: "sync as you go" without stalling the writes. After every syncEveryBytes of
// completed writes it starts one fdatasync and lets writing go on; the caller waits only when more
// than maxUnsyncedBytes are not yet covered by a finished sync (bounded dirty page cache), and a
// cgroup v1 throttle, which only paces IO the task submits itself, sees every byte go through a sync.

export interface BackgroundSyncerOptions {
  /** Start a sync once this many written bytes are not covered by a started sync. */
  syncEveryBytes: number;
  /** Writers wait while more than this many written bytes are not covered by a finished sync (default 4x syncEveryBytes). */
  maxUnsyncedBytes?: number;
}

export class BackgroundSyncer {
  readonly syncEveryBytes: number;
  readonly maxUnsyncedBytes: number;
  private writtenBytes = 0;
  private startedCoverBytes = 0;
  private syncedCoverBytes = 0;
  private running: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private syncs = 0;

  constructor(
    private readonly syncFn: () => Promise<void>,
    options: BackgroundSyncerOptions,
  ) {
    this.syncEveryBytes = Math.max(1, options.syncEveryBytes);
    this.maxUnsyncedBytes = Math.max(this.syncEveryBytes, options.maxUnsyncedBytes ?? 4 * this.syncEveryBytes);
  }

  /** Syncs started so far. */
  get syncCount(): number {
    return this.syncs;
  }

  /** Bytes known to be durable. */
  get syncedBytes(): number {
    return this.syncedCoverBytes;
  }

  /** Written bytes not yet covered by a finished sync. */
  get unsyncedBytes(): number {
    return this.writtenBytes - this.syncedCoverBytes;
  }

  /** Call after `bytes` were written (the write completed); may start a sync; waits only past the bound. */
  async written(bytes: number): Promise<void> {
    this.throwIfFailed();
    this.writtenBytes += bytes;
    this.maybeStart();
    while (this.writtenBytes - this.syncedCoverBytes > this.maxUnsyncedBytes && this.running) {
      await this.running;
      this.throwIfFailed();
    }
  }

  /** Waits for the running sync, then syncs whatever is left; afterwards everything written is durable. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    this.throwIfFailed();
    if (this.writtenBytes > this.syncedCoverBytes) {
      this.start();
      while (this.running) await this.running;
      this.throwIfFailed();
    }
  }

  private maybeStart(): void {
    if (!this.running && this.writtenBytes - this.startedCoverBytes >= this.syncEveryBytes) this.start();
  }

  private start(): void {
    const cover = this.writtenBytes;
    this.startedCoverBytes = cover;
    this.syncs++;
    this.running = this.syncFn().then(
      () => {
        this.syncedCoverBytes = Math.max(this.syncedCoverBytes, cover);
        this.running = undefined;
        if (!this.failure) this.maybeStart();
      },
      (error: unknown) => {
        this.failure ??= { error };
        this.running = undefined;
      },
    );
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
