// Puts verified blocks on the write target: several writes in flight, a sync every few MiB that
// overlaps with the next writes, then (optionally) a read-back of each synced block into the
// whole-image hash, and a checkpoint every N synced blocks. Only the apply hands blocks in here.

import { UpdateEngineError, wrapError } from '../errors.ts';
import type { WriteTarget } from '../io/write-target.ts';
import type { WorkerHashStream } from './hash-pool.ts';

export interface BlockWriterOptions {
  target: WriteTarget;
  blockSizeBytes: number;
  blockCount: number;
  imageSizeBytes: number;
  /** The first block this apply writes (blocks before it are already on the target). */
  firstBlock: number;
  syncEveryBlocks: number;
  /** Read each synced block back into `imageHash` (else the apply feeds it the verified bytes). */
  readBack: boolean;
  imageHash: WorkerHashStream;
  /** Read-back bytes handed to the hash worker and not hashed yet stay below this. */
  maxReadBackPendingBytes: number;
  checkpointEveryBlocks: number;
  /** Persists "blocks [0, nextBlock) are on the target and synced". */
  saveCheckpoint?(nextBlock: number): Promise<void>;
  /** Blocks [0, blocksDone) are written (not necessarily synced yet). */
  onWritten?(blocksDone: number): void;
}

export class BlockWriter {
  private readonly done: Uint8Array;
  /** Blocks [0, contiguous) are written. */
  private contiguous: number;
  /** Blocks [0, synced) are durable. */
  private synced: number;
  private syncRequested: number;
  private syncing: Promise<void> | undefined;
  private readBackNext: number;
  /** Set by stop(): the read-back ends at the next block (its hash is of no use any more). */
  private stopping = false;
  private readBackWaiters: Array<() => void> = [];
  private readBackChain: Promise<void> = Promise.resolve();
  private checkpointed: number;
  private checkpointChain: Promise<void> = Promise.resolve();
  private writesInFlight = new Set<Promise<void>>();
  /** The first failure of a write, sync, read-back or checkpoint. */
  failure: Error | undefined;
  private readonly onFailure: (e: Error) => void;

  constructor(
    private readonly o: BlockWriterOptions,
    onFailure: (e: Error) => void,
  ) {
    this.done = new Uint8Array(o.blockCount);
    this.contiguous = this.synced = this.syncRequested = this.readBackNext = this.checkpointed = o.firstBlock;
    this.onFailure = onFailure;
  }

  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!this.failure) {
      this.failure = err;
      this.onFailure(err);
      this.wakeReadBackWaiters();
    }
  }

  /** Writes verified block `index`; `release` is called once the bytes are no longer needed. */
  submit(index: number, bytes: Uint8Array, release: () => void): void {
    const write = this.o.target
      .write(bytes, index * this.o.blockSizeBytes)
      .then(
        () => this.written(index),
        (e: unknown) => this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot write block ${index} to "${this.o.target.description}"`)),
      )
      .finally(release);
    this.writesInFlight.add(write);
    void write.finally(() => this.writesInFlight.delete(write));
  }

  private written(index: number): void {
    this.done[index] = 1;
    if (index !== this.contiguous) return;
    while (this.contiguous < this.o.blockCount && this.done[this.contiguous] === 1) this.contiguous++;
    this.o.onWritten?.(this.contiguous);
    if (this.contiguous - this.syncRequested >= this.o.syncEveryBlocks) this.startSync();
  }

  /** Syncs what is written so far, unless a sync is running (the next one starts when it ends). */
  private startSync(): void {
    if (this.syncing || this.failure) return;
    const upTo = this.contiguous;
    this.syncRequested = upTo;
    this.syncing = this.o.target.sync().then(
      () => {
        this.syncing = undefined;
        this.synced = Math.max(this.synced, upTo);
        this.afterSync();
        if (this.contiguous - this.syncRequested >= this.o.syncEveryBlocks) this.startSync();
      },
      (e: unknown) => {
        this.syncing = undefined;
        this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`));
      },
    );
  }

  private afterSync(): void {
    if (this.o.readBack) {
      const upTo = this.synced;
      this.readBackChain = this.readBackChain.then(() => this.readBackUpTo(upTo)).catch((e: unknown) => this.fail(this.readBackError(e)));
    }
    if (this.o.saveCheckpoint && this.synced - this.checkpointed >= this.o.checkpointEveryBlocks) this.checkpoint(this.synced);
  }

  private checkpoint(nextBlock: number): void {
    const save = this.o.saveCheckpoint;
    if (!save || nextBlock <= this.checkpointed) return;
    this.checkpointed = nextBlock;
    this.checkpointChain = this.checkpointChain.then(() => save(nextBlock)).catch((e: unknown) => this.fail(wrapError(e, 'ERR_DOWNLOAD_STATE', 'Cannot save the resume point')));
  }

  private async readBackUpTo(upTo: number): Promise<void> {
    const pending: Array<Promise<void>> = [];
    while (this.readBackNext < upTo && !this.failure && !this.stopping) {
      const index = this.readBackNext++;
      const offset = index * this.o.blockSizeBytes;
      const length = Math.min(this.o.blockSizeBytes, this.o.imageSizeBytes - offset);
      const bytes = await this.o.target.read(offset, length);
      if (bytes.byteLength !== length) {
        throw new UpdateEngineError('ERR_IMAGE_VERIFICATION', `Read back ${bytes.byteLength} of ${length} bytes of block ${index} from "${this.o.target.description}"`);
      }
      const hashed = this.o.imageHash.update(bytes, true);
      hashed.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      pending.push(hashed);
      while (this.o.imageHash.pendingBytes > this.o.maxReadBackPendingBytes && pending.length > 0) await pending.shift();
      this.wakeReadBackWaiters();
    }
    await Promise.all(pending);
  }

  private wakeReadBackWaiters(): void {
    const waiters = this.readBackWaiters;
    this.readBackWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Waits while the read-back is more than `maxLagBlocks` behind the writes (so that it reads from the
   * page cache, and an abort does not leave much to read). Returns at once without read-back.
   */
  async waitForReadBack(maxLagBlocks: number): Promise<void> {
    while (this.o.readBack && !this.failure && !this.stopping && this.contiguous - this.readBackNext > maxLagBlocks) {
      await new Promise<void>((resolve) => this.readBackWaiters.push(resolve));
    }
  }

  private readBackError(e: unknown): UpdateEngineError {
    return wrapError(e, 'ERR_IMAGE_VERIFICATION', `Cannot read back "${this.o.target.description}"`);
  }

  /** Blocks [0, n) are durable. */
  get syncedBlocks(): number {
    return this.synced;
  }

  private async settle(): Promise<void> {
    while (this.writesInFlight.size > 0) await Promise.allSettled([...this.writesInFlight]);
    while (this.syncing) await this.syncing;
  }

  /** After the last block was submitted: waits for the writes, syncs, reads back the rest, saves no checkpoint. */
  async finish(): Promise<void> {
    await this.settle();
    if (!this.failure && this.contiguous !== this.o.blockCount) {
      throw new UpdateEngineError('ERR_INTERNAL', `Finished with ${this.contiguous} of ${this.o.blockCount} blocks written`);
    }
    if (!this.failure && this.synced < this.contiguous) {
      await this.o.target.sync().catch((e: unknown) => this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`)));
      this.synced = this.contiguous;
      if (this.o.readBack) this.readBackChain = this.readBackChain.then(() => this.readBackUpTo(this.synced)).catch((e: unknown) => this.fail(this.readBackError(e)));
    }
    await this.readBackChain;
    await this.checkpointChain;
    if (this.failure) throw this.failure;
  }

  /**
   * After an abort or a failure: lets the writes in flight end (they hold verified blocks), syncs, and
   * saves a checkpoint at the last durable block. Never throws; returns the number of durable blocks.
   */
  async stop(): Promise<number> {
    this.stopping = true;
    this.wakeReadBackWaiters();
    await this.settle();
    if (this.synced < this.contiguous) {
      const upTo = this.contiguous;
      try {
        await this.o.target.sync();
        this.synced = upTo;
      } catch (e) {
        this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`));
      }
    }
    this.checkpoint(this.synced);
    await this.checkpointChain;
    await this.readBackChain;
    return this.synced;
  }
}
