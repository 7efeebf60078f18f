// Where payload bytes come from: the apply names the byte ranges it needs (all of it, or the header
// and the rest after a resume point) and the transport (file, HTTP with Range) delivers just those.

import type { Readable } from 'node:stream';

/** A byte range of the payload file; `end` is exclusive, undefined = to the end of the file. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** How a transport treats a server that answers a Range request with the whole file (HTTP 200). */
export interface OpenOptions {
  /**
   * 'skip' (default): read past the unwanted prefix (right for one resume range).
   * 'fail': fail the stream with ERR_DOWNLOAD_RANGE_IGNORED at once, without reading the body, so
   * that a delta apply (many small ranges) falls back to one full stream instead.
   */
  rangeIgnored?: 'skip' | 'fail' | undefined;
}

/**
 * Opens the payload and returns the bytes of `ranges`, concatenated in order, as a stream of Buffers.
 * It must stop (destroy the stream) when `signal` aborts.
 */
export type OpenPayload = (ranges: ByteRange[], signal: AbortSignal, options?: OpenOptions) => Promise<Readable>;
