// A fixed pool of block buffers in shared memory, handed out as leases. A lease has exactly one owner
// at a time: the stage holding it passes it on with the block or releases it; nothing counts holds.
// The pool size bounds the apply's block memory, and a receive that waits for a lease is backpressure.

import { UpdateEngineError } from '../errors.ts';

/** One buffer of the pool, owned by whoever holds the lease until it calls release() (once). */
export class BlockLease {
  private released = false;

  constructor(
    /** The whole buffer (shared memory, so that hash workers read it in place); a block uses a prefix. */
    readonly memory: Buffer,
    private readonly giveBack: (memory: Buffer) => void,
  ) {}

  /** Returns the buffer to the pool; the owner must not touch `memory` afterwards. */
  release(): void {
    if (this.released) throw new UpdateEngineError('ERR_INTERNAL', 'Block buffer released twice');
    this.released = true;
    this.giveBack(this.memory);
  }
}

export class BlockPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: Array<(memory: Buffer) => void> = [];
  private onStarved: (() => void) | undefined;

  constructor(
    readonly count: number,
    readonly bufferBytes: number,
  ) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.from(new SharedArrayBuffer(bufferBytes)));
  }

  /** A buffer of the pool; waits while all are leased (rejects with the signal's reason on abort). */
  async acquire(signal?: AbortSignal): Promise<BlockLease> {
    signal?.throwIfAborted();
    const memory = this.free.pop() ?? (await this.waitForBuffer(signal));
    return new BlockLease(memory, (m) => this.giveBack(m));
  }

  /** Buffers currently leased. */
  get leased(): number {
    return this.count - this.free.length;
  }

  /** `listener` runs whenever an acquire has to wait (e.g. to sync early so that blocks held for the read-back can go). */
  whenStarved(listener: () => void): void {
    this.onStarved = listener;
  }

  private waitForBuffer(signal: AbortSignal | undefined): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new UpdateEngineError('ERR_ABORTED', 'Payload apply aborted'));
      };
      const waiter = (memory: Buffer) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(memory);
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.onStarved?.();
    });
  }

  private giveBack(memory: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(memory);
    else this.free.push(memory);
  }
}
