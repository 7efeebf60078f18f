// The network side of a delta apply: the planned ranges come back as one stream (concatenated in
// order); RangeCursor hands out the bytes at given payload offsets, in increasing order, dropping the
// gap bytes that coalescing fetched. refetchStored fetches one block's stored bytes again on its own.

import { UpdateEngineError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import type { OpenPayload } from './source.ts';

const SCRATCH_BYTES = 64 * 1024;

export class RangeCursor {
  private k = 0;
  private position: number;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  constructor(
    private readonly reader: ByteReader,
    private readonly ranges: ReadonlyArray<{ start: number; end: number }>,
  ) {
    this.position = ranges[0]?.start ?? 0;
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  /** Copies payload bytes [offset, offset + dest.byteLength) into `dest`; offsets must not go back. */
  async readAt(offset: number, dest: Uint8Array): Promise<void> {
    while (this.position !== offset) {
      const range = this.ranges[this.k];
      if (!range || offset < this.position) throw new UpdateEngineError('ERR_INTERNAL', `Payload offset ${offset} is not in the ranges fetched`);
      if (this.position === range.end) {
        this.k++;
        this.position = this.ranges[this.k]?.start ?? Number.POSITIVE_INFINITY;
        continue;
      }
      const skip = Math.min(offset - this.position, range.end - this.position, SCRATCH_BYTES);
      await this.reader.readInto(this.scratch, skip, `the payload bytes before offset ${offset}`);
      this.position += skip;
    }
    await this.reader.readInto(dest, dest.byteLength, `the payload bytes at offset ${offset}`);
    this.position += dest.byteLength;
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
