// Pulls exact byte counts out of a stream of chunks without concatenating them: small reads come back
// as one buffer, large ones are copied straight into the caller's memory. Tracks the payload offset.

import type { Readable } from 'node:stream';
import { UpdateEngineError } from '../errors.ts';

export class ByteReader {
  private readonly chunks: AsyncIterator<unknown>;
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  private ended = false;
  /** Bytes taken from the stream so far. */
  bytesRead = 0;
  /** The payload file offset of the next byte (differs from bytesRead after a skip on resume). */
  offset = 0;

  constructor(readable: Readable | AsyncIterable<unknown>) {
    this.chunks = (readable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }

  /** Loads the next chunk; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.byteLength) {
      if (this.ended) return false;
      const next = await this.chunks.next();
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

  /**
   * The next `n` bytes. A view into the current chunk when it holds them all, else a new buffer.
   * `what` names the part being read, for the truncation message.
   */
  async read(n: number, what: string): Promise<Buffer> {
    if (!(await this.fill())) {
      if (n === 0) return Buffer.alloc(0);
      this.truncated(n, what);
    }
    if (this.chunk.byteLength - this.at >= n) {
      const view = this.chunk.subarray(this.at, this.at + n);
      this.advance(n);
      return view;
    }
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

  /** Up to `max` bytes, fewer only at the end of the stream (an empty buffer there). */
  async readUpTo(max: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    const take = Math.min(max, this.chunk.byteLength - this.at);
    const view = this.chunk.subarray(this.at, this.at + take);
    this.advance(take);
    return view;
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
      await this.chunks.return?.();
    } catch {
      // already failed or ended: nothing to release
    }
  }
}
