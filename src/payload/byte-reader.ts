// Pulls exact byte counts out of a stream of chunks without concatenating them: large reads are copied
// straight into the caller's memory (readInto), small ones come back as a copy, which also goes to an
// optional hook (the payload file hash of the header and trailer). Tracks the payload offset. A chunk
// used up is given back (src/io/recycled-memory.ts): nothing here keeps a view of it.

import type { Readable } from 'node:stream';
import { UpdateEngineError } from '../errors.ts';
import { giveBack } from '../io/recycled-memory.ts';

/**
 * Receives, in order, the bytes that read() and readUpTo() return (the same buffer: the hook must not
 * change or detach it). readInto()'s bytes are not passed on: they are in the caller's memory.
 */
export type ReturnedBytesHook = (bytes: Buffer) => void;

const EMPTY = Buffer.alloc(0);

export interface ByteReaderOptions {
  onReturned?: ReturnedBytesHook;
  /** A pending read rejects with its reason at once, even if the stream ignores the abort. */
  signal?: AbortSignal;
}

export class ByteReader {
  private readonly chunks: AsyncIterator<unknown>;
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  private ended = false;
  /** Bytes taken from the stream so far. */
  bytesRead = 0;
  /** The payload file offset of the next byte (differs from bytesRead after a skip on resume). */
  offset = 0;

  /** Set once the signal aborted: every pending and later wait rejects with it. */
  private abortError: Error | undefined;
  /** Rejects the wait in progress (see untilAborted). */
  private rejectWait: ((e: Error) => void) | undefined;

  private readonly onReturned: ReturnedBytesHook | undefined;

  constructor(readable: Readable | AsyncIterable<unknown>, options: ByteReaderOptions = {}) {
    const { signal } = options;
    this.onReturned = options.onReturned;
    this.chunks = (readable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    if (signal) {
      const stop = () => {
        this.abortError = signal.reason instanceof Error ? signal.reason : new UpdateEngineError('ERR_ABORTED', 'Payload read aborted');
        this.rejectWait?.(this.abortError);
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    }
  }

  /**
   * `promise`, or a rejection as soon as the signal aborts. Not Promise.race with one long-lived abort
   * promise: each race would leave a reaction on it that keeps the chunk it resolved with alive.
   */
  private untilAborted<T>(promise: Promise<T>): Promise<T> {
    if (this.abortError) {
      promise.catch(() => undefined);
      return Promise.reject(this.abortError);
    }
    return new Promise<T>((resolve, reject) => {
      this.rejectWait = reject;
      promise.then(resolve, reject).finally(() => {
        if (this.rejectWait === reject) this.rejectWait = undefined;
      });
    });
  }

  /** Loads the next chunk once the current one is used up; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.byteLength) {
      giveBack(this.chunk); // copied out: a transport's recycled read buffer may be read into again
      this.chunk = EMPTY;
      if (this.ended) return false;
      const next = await this.untilAborted(this.chunks.next());
      if (next.done) {
        this.ended = true;
        return false;
      }
      const value = next.value;
      this.chunk = Buffer.isBuffer(value)
        ? value
        : value instanceof Uint8Array
          ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          : Buffer.from(String(value));
      this.at = 0;
    }
    return true;
  }

  private truncated(wanted: number, what: string): never {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload is truncated: it ends at offset ${this.offset} inside ${what} (${wanted} more bytes expected)`);
  }

  /** A copy of the next `n` bytes; `what` names the part being read, for the truncation message. */
  async read(n: number, what: string): Promise<Buffer> {
    const out = Buffer.allocUnsafeSlow(n);
    await this.readInto(out, n, what);
    this.onReturned?.(out);
    return out;
  }

  /** Copies the next `n` bytes into `dest` (from its start). */
  async readInto(dest: Uint8Array, n: number, what: string): Promise<void> {
    let done = 0;
    while (done < n) {
      if (!(await this.fill())) this.truncated(n - done, what);
      const take = Math.min(n - done, this.chunk.byteLength - this.at);
      dest.set(this.chunk.subarray(this.at, this.at + take), done);
      this.advance(take);
      done += take;
    }
  }

  /** A copy of up to `max` bytes, fewer only at the end of the stream (an empty buffer there). */
  async readUpTo(max: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    const take = Math.min(max, this.chunk.byteLength - this.at);
    const out = Buffer.from(this.chunk.subarray(this.at, this.at + take));
    this.advance(take);
    this.onReturned?.(out);
    return out;
  }

  /** True when the stream has no more bytes. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  private advance(n: number): void {
    this.at += n;
    this.bytesRead += n;
    this.offset += n;
  }

  /** Declares that the stream continues at payload offset `offset` (the second range of a resume). */
  jumpTo(offset: number): void {
    this.offset = offset;
  }

  /** Stops the underlying stream early. */
  async cancel(): Promise<void> {
    try {
      // Not awaited past the abort: a stream stuck in its source must not hold the caller.
      const done = this.chunks.return?.();
      if (done) await this.untilAborted(done);
    } catch {
      // already failed, ended or aborted: nothing to release
    }
  }
}
