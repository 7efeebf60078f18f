// The network side of a delta apply: the planned ranges come back as one stream (concatenated in
// order), after what the header probe already brought past the header; RangeCursor hands out the
// bytes at given payload offsets, in increasing order, dropping the gap bytes that coalescing fetched.
// refetchInto fetches one block's stored bytes again on its own.

import { UpdateEngineError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import type { OpenPayload } from './source.ts';

const SCRATCH_BYTES = 64 * 1024;

/** Payload bytes [start, end) as they come out of `reader`, back to back with the other segments of the same reader. */
export interface Segment {
  start: number;
  end: number;
  reader: ByteReader;
}

export class RangeCursor {
  private k = 0;
  private position: number;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  constructor(private readonly ranges: readonly Segment[]) {
    this.position = ranges[0]?.start ?? 0;
  }

  /** Copies payload bytes [offset, offset + dest.byteLength) into `dest` (across segments); offsets must not go back. */
  async readAt(offset: number, dest: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dest.byteLength) {
      await this.seek(offset + done);
      const take = Math.min(dest.byteLength - done, this.segment().end - this.position);
      await this.segment().reader.readInto(dest.subarray(done, done + take), take, `the payload bytes at offset ${this.position}`);
      this.position += take;
      done += take;
    }
  }

  /** Moves to payload offset `offset` (reading and dropping the bytes before it), inside a segment with bytes left. */
  private async seek(offset: number): Promise<void> {
    for (;;) {
      const range = this.segment();
      if (offset < this.position) throw new UpdateEngineError('ERR_INTERNAL', `Payload offset ${offset} is not in the ranges fetched`);
      if (this.position === range.end) {
        this.k++;
        this.position = this.ranges[this.k]?.start ?? Number.POSITIVE_INFINITY;
        continue;
      }
      if (this.position === offset) return;
      const skip = Math.min(offset - this.position, range.end - this.position, SCRATCH_BYTES);
      await range.reader.readInto(this.scratch, skip, `the payload bytes before offset ${offset}`);
      this.position += skip;
    }
  }

  private segment(): Segment {
    const range = this.ranges[this.k];
    if (!range) throw new UpdateEngineError('ERR_INTERNAL', `Payload offset ${this.position} is past the ranges fetched`);
    return range;
  }
}

/** Fetches payload bytes [start, start + dest.byteLength) again into `dest`; resolves with the bytes fetched. */
export async function refetchInto(open: OpenPayload, start: number, dest: Uint8Array, signal: AbortSignal): Promise<number> {
  const stream = await open([{ start, end: start + dest.byteLength }], signal, { rangeIgnored: 'fail' });
  const reader = new ByteReader(stream, { signal });
  try {
    await reader.readInto(dest, dest.byteLength, `the block refetched at offset ${start}`);
    return reader.bytesRead;
  } finally {
    await reader.cancel();
    stream.destroy();
  }
}
