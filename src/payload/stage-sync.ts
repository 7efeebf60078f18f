// Stage 4, sync: written blocks gathered into runs and made durable (fdatasync) every few blocks, one
// sync at a time, while the writes of the next run go on; also early when the pool ran out of buffers.
// Pulls its input eagerly, so a slow consumer (the read-back) never stops the writes. After a failed
// sync nothing is trusted any more; when the input fails, what was written is synced, then it throws.

import { wrapError } from '../errors.ts';
import type { WriteTarget } from '../io/write-target.ts';
import type { BlockPool } from './block-pool.ts';
import { drop, type WrittenBlock } from './stage-flow.ts';

/** Blocks made durable by one sync: blocks [0, upTo) are durable now. */
export interface SyncedRun {
  blocks: WrittenBlock[];
  upTo: number;
}

export interface SyncOptions {
  target: WriteTarget;
  /** A sync once this many blocks are written since the last one. */
  everyBlocks: number;
  /** Sync early whenever this pool makes an acquire wait (written blocks may hold its buffers). */
  pool?: BlockPool;
  onFailure?(error: unknown): void;
}

class SyncStage {
  private batch: WrittenBlock[] = [];
  private readonly out: SyncedRun[] = [];
  private syncing: Promise<void> | undefined;
  private earlySyncWanted = false;
  private inputDone = false;
  private inputError: { error: unknown } | undefined;
  /** A sync failed: writes after the last good sync may be lost, and no later sync can vouch for them. */
  private failure: Error | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly pulling: Promise<void>;

  constructor(
    input: AsyncIterable<WrittenBlock>,
    private readonly o: SyncOptions,
  ) {
    o.pool?.whenStarved(() => {
      this.earlySyncWanted = true;
      this.maybeSync();
    });
    this.pulling = this.pull(input);
  }

  private async pull(input: AsyncIterable<WrittenBlock>): Promise<void> {
    try {
      for await (const block of input) {
        if (this.failure || this.stopped) drop(block);
        else this.batch.push(block);
        this.maybeSync();
      }
    } catch (error) {
      this.inputError = { error };
    }
    this.inputDone = true;
    this.maybeSync();
    this.wake?.();
  }

  /** Starts a sync of the batch when one is due and none is running. */
  private maybeSync(): void {
    if (this.syncing || this.failure || this.batch.length === 0) return;
    if (!this.inputDone && !this.earlySyncWanted && this.batch.length < this.o.everyBlocks) return;
    const blocks = this.batch;
    this.batch = [];
    this.earlySyncWanted = false;
    const upTo = (blocks.at(-1) as WrittenBlock).index + 1;
    this.syncing = this.o.target.sync().then(
      () => {
        this.syncing = undefined;
        if (this.stopped) blocks.forEach(drop);
        else this.out.push({ blocks, upTo });
        this.maybeSync();
        this.wake?.();
      },
      (e: unknown) => {
        this.syncing = undefined;
        this.failure = wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`);
        this.o.onFailure?.(this.failure);
        blocks.forEach(drop);
        this.batch.splice(0).forEach(drop);
        this.wake?.();
      },
    );
  }

  async *runs(): AsyncGenerator<SyncedRun> {
    try {
      for (;;) {
        const run = this.out.shift();
        if (run) {
          yield run;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.inputDone && !this.syncing && this.batch.length === 0) break;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
      if (this.inputError) throw this.inputError.error;
    } finally {
      this.stopped = true;
      await this.pulling;
      await this.syncing;
      for (const run of this.out.splice(0)) run.blocks.forEach(drop);
      this.batch.splice(0).forEach(drop);
    }
  }
}

export function syncBlocks(written: AsyncIterable<WrittenBlock>, o: SyncOptions): AsyncGenerator<SyncedRun> {
  return new SyncStage(written, o).runs();
}
