// openFilePayload: the OpenPayload source over a local payload file (for `payload verify`, tests and
// the benchmark). Streams the requested byte ranges back to back in 1 MiB chunks, each a fresh buffer.

import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { UpdateEngineError, wrapError } from '../errors.ts';
import type { ByteRange, OpenPayload } from './source.ts';

export const FILE_CHUNK_BYTES = 1024 * 1024;

async function* readRanges(path: string, ranges: readonly ByteRange[], signal: AbortSignal, chunkBytes: number): AsyncGenerator<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw wrapError(e, 'ERR_DOWNLOAD_TRANSFER', `Cannot open payload file "${path}"`);
  }
  try {
    for (const range of ranges) {
      let position = range.start;
      const end = range.end ?? Number.POSITIVE_INFINITY;
      while (position < end) {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new UpdateEngineError('ERR_ABORTED', 'Payload read aborted');
        const want = Math.min(chunkBytes, end - position);
        const buf = Buffer.allocUnsafeSlow(want);
        const { bytesRead } = await handle.read(buf, 0, want, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        yield bytesRead === want ? buf : Buffer.from(buf.subarray(0, bytesRead)); // each chunk owns exactly its memory
      }
    }
  } finally {
    await handle.close();
  }
}

export interface FileSourceBehaviour {
  /**
   * Act as a server that ignores Range and answers 200 with the whole file: an open() of anything but
   * the whole file with rangeIgnored 'fail' rejects with ERR_DOWNLOAD_RANGE_IGNORED (with 'skip', the
   * ranges are served: reading past the prefix gives the same bytes).
   */
  ignoresRanges?: boolean;
}

/** An OpenPayload over a file; `chunkBytes` sets the read size. Ranges are always honoured unless `behaviour` says otherwise. */
export function openFilePayload(path: string, chunkBytes = FILE_CHUNK_BYTES, behaviour: FileSourceBehaviour = {}): OpenPayload {
  return async (ranges, signal, options) => {
    const whole = ranges.length === 1 && ranges[0]?.start === 0 && ranges[0]?.end === undefined;
    if (behaviour.ignoresRanges && options?.rangeIgnored === 'fail' && !whole) {
      throw new UpdateEngineError('ERR_DOWNLOAD_RANGE_IGNORED', `"${path}" answered a Range request with the whole file (HTTP 200)`);
    }
    for (const r of ranges) {
      if (!Number.isSafeInteger(r.start) || r.start < 0 || (r.end !== undefined && (!Number.isSafeInteger(r.end) || r.end < r.start))) {
        throw new UpdateEngineError('ERR_INTERNAL', `Invalid byte range ${JSON.stringify(r)} for "${path}"`);
      }
    }
    return Readable.from(readRanges(path, ranges, signal, chunkBytes), { objectMode: true, highWaterMark: 2 });
  };
}
