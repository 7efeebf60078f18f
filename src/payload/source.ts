// Where payload bytes come from: the apply names the byte ranges it needs (all of it, or the header
// and the rest after a resume point) and the transport (file, HTTP with Range) delivers just those.

import type { Readable } from 'node:stream';

/** A byte range of the payload file; `end` is exclusive, undefined = to the end of the file. */
export interface ByteRange {
  start: number;
  end?: number;
}

/**
 * Opens the payload and returns the bytes of `ranges`, concatenated in order, as a stream of Buffers.
 * It must stop (destroy the stream) when `signal` aborts.
 */
export type OpenPayload = (ranges: ByteRange[], signal: AbortSignal) => Promise<Readable>;
