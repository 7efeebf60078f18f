// Read buffers passed from a producer (the raw HTTP reader) to the one consumer that copies them out
// (the apply's ByteReader), which gives each back once it moved past it, so that the next reads go
// into the same memory: no allocation per read, and no garbage that only V8's external-memory
// trigger would collect (a full mark-compact on helper threads; issue 17). Memory never given back
// (another consumer) is garbage as usual.

/** What to do when a buffer comes back, by the memory a view of it is over. */
const givingBack = new WeakMap<ArrayBufferLike, () => void>();

export class RecycledMemory {
  private readonly free: ArrayBufferLike[] = [];

  constructor(
    /** Size of each buffer. */
    readonly bytes: number,
    /** Buffers kept for reuse at most (the rest given back are dropped). */
    private readonly keep: number,
  ) {}

  /** A buffer to read into: one given back, else a new one; `giveBack` on any view of it returns it. */
  take(): Buffer {
    const memory = this.free.pop() ?? Buffer.allocUnsafeSlow(this.bytes).buffer;
    givingBack.set(memory, () => {
      if (this.free.length < this.keep) this.free.push(memory);
    });
    return Buffer.from(memory, 0, this.bytes);
  }
}

/**
 * The memory `view` is over goes on in several views (the parts of a multipart answer that came in
 * one read): it is not recycled, since a consumer gives memory back when it used up one view, while
 * the others may still wait to be read. It becomes garbage as usual.
 */
export function keepOut(view: Uint8Array): void {
  givingBack.delete(view.buffer);
}

/** The consumer is done with the memory `view` is over (and with every other view of it); memory not from a RecycledMemory is left alone. */
export function giveBack(view: Uint8Array): void {
  const back = givingBack.get(view.buffer);
  if (!back) return;
  givingBack.delete(view.buffer);
  back();
}
