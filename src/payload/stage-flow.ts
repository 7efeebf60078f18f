// What flows between the apply's stages and how they are joined: each stage is an async iterable of
// blocks that owns a block's lease until it yields the block on (or releases it). mapOrdered runs a
// stage's work on several blocks at once, in order, pulling ahead only while it has room (backpressure).

import type { BlockLease } from './block-pool.ts';

/** A block's stored bytes, as received (from the payload, or later from a local source). */
export interface ReceivedBlock {
  index: number;
  /** The stored bytes: a view of `lease.memory`. */
  stored: Buffer;
  lease: BlockLease;
  /** The payload file's hash of `stored`, still running (payload blocks of a fresh apply only). */
  payloadHashed?: Promise<void> | undefined;
  /** `stored` holds the image bytes already (assembled by a delta apply), even when blocks are compressed. */
  assembled?: boolean | undefined;
  /**
   * Set by the delta apply once these very bytes (in the lease, not changed since) matched the block
   * table on a hash worker: the verify stage does not hash them again, unless it feeds the image hash.
   */
  matchedBlockTable?: boolean | undefined;
}

/** A block whose image bytes matched the signed block table. */
export interface VerifiedBlock {
  index: number;
  /** The image bytes: `stored` itself, or the decompressed bytes. */
  image: Uint8Array;
  lease: BlockLease;
}

/** A block on the target (not yet durable); its bytes are kept only when they will be read back. */
export interface WrittenBlock {
  index: number;
  kept: { image: Uint8Array; lease: BlockLease } | undefined;
}

/** Anything that may own a lease: dropping it releases the lease. */
export type Owned = { lease: BlockLease } | { kept: { lease: BlockLease } | undefined };

/** Releases what a dropped item owns. */
export function drop(item: Owned): void {
  if ('lease' in item) item.lease.release();
  else item.kept?.lease.release();
}

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface MapOrderedOptions {
  /** At most this many items between the source and the consumer (in `fn` or done, not yet taken). */
  limit: number;
  /** Called at once with the first failure of `fn`, before the items in flight settle (e.g. to stop the source). */
  onFailure?(error: unknown): void;
}

/** The state of one mapOrdered: a pump that takes items from the source while there is room, and a queue of results in source order. */
class OrderedMap<T extends Owned, R extends Owned> {
  readonly queue: Array<Promise<Settled<R>>> = [];
  /** The source ended (ok) or failed. */
  ended: Settled<undefined> | undefined;
  private stopped = false;
  private wakeConsumer: (() => void) | undefined;
  private wakePump: (() => void) | undefined;
  readonly pumping: Promise<void>;

  constructor(
    source: AsyncIterable<T>,
    private readonly options: MapOrderedOptions,
    private readonly fn: (item: T) => Promise<R>,
  ) {
    this.pumping = this.pump(source[Symbol.asyncIterator]());
  }

  private start(item: T): Promise<Settled<R>> {
    return this.fn(item).then(
      (value): Settled<R> => ({ ok: true, value }),
      (error: unknown): Settled<R> => {
        this.options.onFailure?.(error);
        return { ok: false, error };
      },
    );
  }

  private async pump(items: AsyncIterator<T>): Promise<void> {
    try {
      for (;;) {
        while (this.queue.length >= this.options.limit && !this.stopped) await new Promise<void>((resolve) => (this.wakePump = resolve));
        if (this.stopped) break;
        const next = await items.next();
        if (next.done) break;
        if (this.stopped) {
          drop(next.value);
          break;
        }
        this.queue.push(this.start(next.value));
        this.wakeConsumer?.();
      }
      this.ended = { ok: true, value: undefined };
    } catch (error) {
      this.ended = { ok: false, error };
    }
    if (this.stopped) await items.return?.().catch(() => undefined);
    this.wakeConsumer?.();
  }

  /** The next result in order, or undefined once the source ended and every result was taken. */
  async next(): Promise<Settled<R> | undefined> {
    for (;;) {
      const head = this.queue[0];
      if (head) {
        const settled = await head;
        this.queue.shift();
        this.wakePump?.();
        return settled;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  /** Stops taking items; drops the results not taken once they settle; waits for the pump. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakePump?.();
    for (const settled of await Promise.all(this.queue.splice(0))) if (settled.ok) drop(settled.value);
    await this.pumping;
  }
}

/**
 * Runs `fn` on the items of `source`, up to `limit` at a time, and yields the results in source order.
 * `fn` owns its item: it returns what owns the lease now, or releases it and throws. When the source
 * fails, the items already taken are still yielded, then the failure is thrown; when `fn` fails, the
 * items after it are dropped once settled and the failure is thrown; when the consumer stops early,
 * the items in flight are dropped once settled.
 */
export async function* mapOrdered<T extends Owned, R extends Owned>(
  source: AsyncIterable<T>,
  options: MapOrderedOptions,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const map = new OrderedMap(source, options, fn);
  try {
    for (let settled = await map.next(); settled; settled = await map.next()) {
      if (!settled.ok) throw settled.error;
      yield settled.value;
    }
    if (map.ended && !map.ended.ok) throw map.ended.error;
  } finally {
    await map.stop();
  }
}
