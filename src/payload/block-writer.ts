// Puts verified blocks on the write target: several writes in flight, a sync every few MiB that
// overlaps with the next writes, then (with read-back) each synced block read back into one reused
// buffer and compared with the verified bytes still in memory, and a checkpoint every N synced blocks.

import { UpdateEngineError, wrapError } from '../errors.ts';
import { readIntoBuffer, type WriteTarget } from '../io/write-target.ts';

export interface BlockWriterOptions {
  target: WriteTarget;
  blockSizeBytes: number;
  blockCount: number;
  imageSizeBytes: number;
  /** The first block this apply writes (blocks before it are already on the target). */
  firstBlock: number;
  syncEveryBlocks: number;
  /** Compare each block, read back after its sync, with its verified bytes (else let them go once written). */
  readBack: boolean;
  checkpointEveryBlocks: number;
  /** Persists "blocks [0, nextBlock) are on the target and synced". */
  saveCheckpoint?(nextBlock: number): Promise<void>;
  /** Blocks [0, blocksDone) are written (not necessarily synced yet). */
  onWritten?(blocksDone: number): void;
}

interface HeldBlock {
  bytes: Uint8Array;
  release: () => void;
}

export class BlockWriter {
  private readonly done: Uint8Array;
  /** Verified bytes of the blocks submitted and not yet released (kept for the read-back). */
  private readonly held = new Map<number, HeldBlock>();
  /** Blocks [0, contiguous) are written. */
  private contiguous: number;
  /** Blocks [0, synced) are durable. */
  private synced: number;
  private syncRequested: number;
  private syncing: Promise<void> | undefined;
  /** A sync failed: writes after the last good sync may be lost, and no later sync can vouch for them. */
  private syncFailed = false;
  /** Sync again as soon as the running sync ends (the apply is waiting for block memory). */
  private syncWanted = false;
  /** Blocks [firstBlock, readBackNext) were read back and matched. */
  private readBackNext: number;
  private readBackRunning: Promise<void> | undefined;
  private readBackBuffer: Buffer | undefined;
  /** Set by stop(): no more read-backs (they would prove nothing the resume does not re-check). */
  private stopping = false;
  private checkpointed: number;
  private checkpointChain: Promise<void> = Promise.resolve();
  private readonly writesInFlight = new Set<Promise<void>>();
  /** The first failure of a write, sync, read-back or checkpoint. */
  failure: Error | undefined;

  constructor(
    private readonly o: BlockWriterOptions,
    private readonly onFailure: (e: Error) => void,
  ) {
    this.done = new Uint8Array(o.blockCount);
    this.contiguous = this.synced = this.syncRequested = this.readBackNext = this.checkpointed = o.firstBlock;
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.onFailure(this.failure);
  }

  /** Writes verified block `index`; `release` is called once its bytes are no longer needed. */
  submit(index: number, bytes: Uint8Array, release: () => void): void {
    this.held.set(index, { bytes, release });
    const write = this.o.target.write(bytes, index * this.o.blockSizeBytes).then(
      () => this.written(index),
      (e: unknown) => {
        this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot write block ${index} to "${this.o.target.description}"`));
        this.releaseBlock(index);
      },
    );
    this.writesInFlight.add(write);
    void write.finally(() => this.writesInFlight.delete(write));
  }

  /** Lets the bytes of block `index` go (idempotent). */
  private releaseBlock(index: number): void {
    const block = this.held.get(index);
    if (!block) return;
    this.held.delete(index);
    block.release();
  }

  private written(index: number): void {
    this.done[index] = 1;
    if (!this.o.readBack) this.releaseBlock(index);
    if (index !== this.contiguous) return;
    while (this.contiguous < this.o.blockCount && this.done[this.contiguous] === 1) this.contiguous++;
    this.o.onWritten?.(this.contiguous);
    if (this.syncWanted || this.contiguous - this.syncRequested >= this.o.syncEveryBlocks) this.startSync();
  }

  /** Asks for a sync of what is written now, e.g. because the apply waits for memory that the read-back holds. */
  requestSync(): void {
    this.syncWanted = true;
    this.startSync();
  }

  /** Syncs what is written so far, unless a sync is running (the next one starts when it ends). */
  private startSync(): void {
    if (this.syncing || this.failure || this.syncFailed || this.contiguous <= this.syncRequested) return;
    const upTo = this.contiguous;
    this.syncRequested = upTo;
    this.syncWanted = false;
    this.syncing = this.o.target.sync().then(
      () => {
        this.syncing = undefined;
        if (this.syncFailed) return;
        this.synced = Math.max(this.synced, upTo);
        this.afterSync();
        if (this.syncWanted || this.contiguous - this.syncRequested >= this.o.syncEveryBlocks) this.startSync();
      },
      (e: unknown) => {
        this.syncing = undefined;
        this.syncFailed = true;
        this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`));
      },
    );
  }

  private afterSync(): void {
    if (this.o.readBack) this.pumpReadBack();
    if (this.o.saveCheckpoint && this.synced - this.checkpointed >= this.o.checkpointEveryBlocks) this.checkpoint(this.synced);
  }

  private checkpoint(nextBlock: number): void {
    const save = this.o.saveCheckpoint;
    if (!save || nextBlock <= this.checkpointed) return;
    this.checkpointed = nextBlock;
    this.checkpointChain = this.checkpointChain.then(() => save(nextBlock)).catch((e: unknown) => this.fail(wrapError(e, 'ERR_DOWNLOAD_STATE', 'Cannot save the resume point')));
  }

  /** Starts reading back the synced blocks not read back yet, one at a time, unless that runs already. */
  private pumpReadBack(): void {
    if (this.readBackRunning) return;
    this.readBackRunning = this.readBackSynced()
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.readBackRunning = undefined;
        if (!this.failure && !this.stopping && this.readBackNext < this.synced) this.pumpReadBack();
      });
  }

  private async readBackSynced(): Promise<void> {
    while (this.readBackNext < this.synced && !this.failure && !this.stopping) {
      const index = this.readBackNext;
      const block = this.held.get(index);
      if (!block) throw new UpdateEngineError('ERR_INTERNAL', `Block ${index} was synced but its verified bytes are gone`);
      await this.compareWithTarget(index, block.bytes);
      this.readBackNext = index + 1;
      this.releaseBlock(index);
    }
  }

  /** Reads block `index` back from the target and compares it with `expected`, byte for byte. */
  private async compareWithTarget(index: number, expected: Uint8Array): Promise<void> {
    const description = this.o.target.description;
    const buffer = (this.readBackBuffer ??= Buffer.allocUnsafeSlow(this.o.blockSizeBytes)).subarray(0, expected.byteLength);
    let n: number;
    try {
      n = await readIntoBuffer(this.o.target, buffer, index * this.o.blockSizeBytes);
    } catch (e) {
      throw wrapError(e, 'ERR_IMAGE_VERIFICATION', `Cannot read back "${description}"`);
    }
    if (n !== expected.byteLength) {
      throw new UpdateEngineError('ERR_IMAGE_VERIFICATION', `Read back ${n} of ${expected.byteLength} bytes of block ${index} from "${description}"`);
    }
    if (!buffer.equals(expected)) {
      let at = 0;
      while (at < n && buffer[at] === expected[at]) at++;
      const offset = index * this.o.blockSizeBytes + at;
      throw new UpdateEngineError('ERR_IMAGE_VERIFICATION', `Block ${index} read back from "${description}" differs from its verified bytes at offset ${offset}`);
    }
  }

  /** Blocks [0, n) are durable. */
  get syncedBlocks(): number {
    return this.synced;
  }

  /** Blocks [0, n) are on the target, durable and (with read-back) compared. */
  get verifiedBlocks(): number {
    return this.o.readBack ? this.readBackNext : this.synced;
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
    this.requestSync();
    await this.settle();
    if (this.o.readBack && !this.failure) {
      while (this.readBackRunning) await this.readBackRunning;
      if (!this.failure && this.readBackNext !== this.o.blockCount) {
        throw new UpdateEngineError('ERR_INTERNAL', `Finished with ${this.readBackNext} of ${this.o.blockCount} blocks read back`);
      }
    }
    await this.checkpointChain;
    if (this.failure) throw this.failure;
  }

  /**
   * After an abort or a failure: lets the writes in flight end (they hold verified blocks), syncs
   * (unless a sync failed before: then nothing after the last good sync is trusted), and saves a
   * checkpoint at the last durable block. Never throws; returns the number of durable blocks.
   */
  async stop(): Promise<number> {
    this.stopping = true;
    await this.settle();
    if (!this.syncFailed && this.synced < this.contiguous) {
      const upTo = this.contiguous;
      try {
        await this.o.target.sync();
        this.synced = upTo;
      } catch (e) {
        this.syncFailed = true;
        this.fail(wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.o.target.description}"`));
      }
    }
    this.checkpoint(this.synced);
    await this.checkpointChain;
    while (this.readBackRunning) await this.readBackRunning;
    for (const index of [...this.held.keys()]) this.releaseBlock(index);
    return this.synced;
  }
}
