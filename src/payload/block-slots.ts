// A fixed pool of block buffers in shared memory: a block is copied in once from the stream, then
// hashed by the workers in place and written from the same memory. The pool size bounds memory.

import { UpdateEngineError } from '../errors.ts';

export class BlockSlot {
  /** The whole slot; a block uses a prefix of it. */
  readonly memory: Buffer;
  private holds = 0;

  constructor(
    bytes: number,
    private readonly pool: BlockSlots,
  ) {
    this.memory = Buffer.from(new SharedArrayBuffer(bytes));
  }

  /** One more user (hashing, writing) that must finish before the slot is reused. */
  hold(): void {
    this.holds += 1;
  }

  /** Drops a hold; the last one returns the slot to the pool. */
  release(): void {
    if (this.holds <= 0) throw new UpdateEngineError('ERR_INTERNAL', 'Block slot released more often than held');
    this.holds -= 1;
    if (this.holds === 0) this.pool.giveBack(this);
  }
}

export class BlockSlots {
  private readonly free: BlockSlot[] = [];
  private readonly waiters: Array<(slot: BlockSlot) => void> = [];
  readonly slotBytes: number;
  readonly count: number;

  constructor(count: number, slotBytes: number) {
    this.count = count;
    this.slotBytes = slotBytes;
    for (let i = 0; i < count; i++) this.free.push(new BlockSlot(slotBytes, this));
  }

  /** A free slot, already held once by the caller; waits while all are in use (rejects on `signal`'s abort). */
  async acquire(signal?: AbortSignal): Promise<BlockSlot> {
    signal?.throwIfAborted();
    const slot = this.free.pop() ?? (await this.waitForSlot(signal));
    slot.hold();
    return slot;
  }

  /** True when acquire() would have to wait. */
  get exhausted(): boolean {
    return this.free.length === 0;
  }

  private waitForSlot(signal: AbortSignal | undefined): Promise<BlockSlot> {
    return new Promise<BlockSlot>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new UpdateEngineError('ERR_ABORTED', 'Payload apply aborted'));
      };
      const waiter = (slot: BlockSlot) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(slot);
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Slots currently in use. */
  get busy(): number {
    return this.count - this.free.length;
  }

  giveBack(slot: BlockSlot): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(slot);
    else this.free.push(slot);
  }
}
