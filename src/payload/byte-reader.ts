// Pulls exact byte counts out of a stream of chunks without concatenating them: large reads are copied
// straight into the caller's memory, small ones come back as a copy. Each chunk, once consumed, goes
// to an optional hook (the payload file hash), which may take it over. Tracks the payload offset.

import type { Readable } from 'node:stream';
import { UpdateEngineError } from '../errors.ts';

/** Receives every chunk of the stream, in order, once all its bytes were consumed; may keep it. A returned promise is awaited (backpressure). */
export type ConsumedChunkHook = (chunk: Buffer) => void | Promise<void>;

export class ByteReader {
  private readonly chunks: AsyncIterator<unknown>;
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  private ended = false;
  /** Bytes taken from the stream so far. */
  bytesRead = 0;
  /** The payload file offset of the next byte (differs from bytesRead after a skip on resume). */
  offset = 0;

  private readonly aborted: Promise<never> | undefined;

  /** `signal`: a pending read rejects with its reason at once, even if the stream ignores the abort. */
  constructor(
    readable: Readable | AsyncIterable<unknown>,
    private readonly onConsumed?: ConsumedChunkHook,
    signal?: AbortSignal,
  ) {
    this.chunks = (readable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    if (signal) {
      this.aborted = new Promise<never>((_, reject) => {
        const stop = () => reject(signal.reason instanceof Error ? signal.reason : new UpdateEngineError('ERR_ABORTED', 'Payload read aborted'));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
      this.aborted.catch(() => undefined);
    }
  }

  /** Loads the next chunk (handing the used one to the hook); false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.byteLength) {
      if (this.chunk.byteLength > 0) {
        const used = this.chunk;
        this.chunk = Buffer.alloc(0);
        const wait = this.onConsumed?.(used);
        if (wait) await wait;
      }
      if (this.ended) return false;
      const next = await (this.aborted ? Promise.race([this.chunks.next(), this.aborted]) : this.chunks.next());
      if (next.done) {
        this.ended = true;
        return false;
      }
      const value = next.value;
      this.chunk = Buffer.isBuffer(value) ? value : value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(String(value));
      this.at = 0;
    }
    return true;
  }

  private truncated(wanted: number, what: string): never {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload is truncated: it ends at offset ${this.offset} inside ${what} (${wanted} more bytes expected)`);
  }

  /** A copy of the next `n` bytes; `what` names the part being read, for the truncation message. */
  async read(n: number, what: string): Promise<Buffer> {
    const out = Buffer.allocUnsafe(n);
    await this.readInto(out, n, what);
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
    return out;
  }

  /** True when the stream has no more bytes (hands the last chunk to the hook). */
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
      if (done) await (this.aborted ? Promise.race([done, this.aborted]) : done);
    } catch {
      // already failed, ended or aborted: nothing to release
    }
  }
}
