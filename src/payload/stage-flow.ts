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

/**
 * Runs `fn` on the items of `source`, up to `limit` at a time, and yields the results in source order.
 * `fn` owns its item: it returns what owns the lease now, or releases it and throws. When the source
 * fails, the items already taken are still yielded, then the failure is thrown; when `fn` fails, the
 * items after it are dropped once settled and the failure is thrown; when the consumer stops early,
 * the items in flight are dropped once settled.
 */
export async function* mapOrdered<T extends Owned, R extends Owned>(source: AsyncIterable<T>, options: MapOrderedOptions, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const queue: Array<Promise<Settled<R>>> = [];
  let ended: Settled<undefined> | undefined;
  let stopped = false;
  let wakeConsumer: (() => void) | undefined;
  let wakePump: (() => void) | undefined;
  const pump = (async () => {
    const items = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        while (queue.length >= options.limit && !stopped) await new Promise<void>((resolve) => (wakePump = resolve));
        if (stopped) break;
        const next = await items.next();
        if (next.done) break;
        if (stopped) {
          drop(next.value);
          break;
        }
        queue.push(
          fn(next.value).then(
            (value): Settled<R> => ({ ok: true, value }),
            (error: unknown): Settled<R> => {
              options.onFailure?.(error);
              return { ok: false, error };
            },
          ),
        );
        wakeConsumer?.();
      }
      ended = { ok: true, value: undefined };
    } catch (error) {
      ended = { ok: false, error };
    }
    if (stopped) await items.return?.().catch(() => undefined);
    wakeConsumer?.();
  })();
  try {
    for (;;) {
      const head = queue[0];
      if (!head) {
        if (ended) break;
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
        continue;
      }
      const settled = await head;
      queue.shift();
      wakePump?.();
      if (!settled.ok) throw settled.error;
      yield settled.value;
    }
    if (ended && !ended.ok) throw ended.error;
  } finally {
    stopped = true;
    wakePump?.();
    for (const settled of await Promise.all(queue.splice(0))) if (settled.ok) drop(settled.value);
    await pump;
  }
}
