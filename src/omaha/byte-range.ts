// Byte ranges: the pure HTTP Range / Content-Range arithmetic that the download and the dev server
// share. ByteRange and OpenPayload are the payload apply's port (src/payload/source.ts), not copies.

import type { ByteRange } from '../payload/source.ts';

export type { ByteRange, OpenPayload } from '../payload/source.ts';

/** The Range header for [start, endExclusive). */
export function rangeHeader(start: number, endExclusive: number): string {
  return `bytes=${start}-${endExclusive - 1}`;
}

export interface ContentRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  endInclusive: number;
  /** The complete length, undefined for "*". */
  totalBytes?: number;
}

/** Parses `bytes START-END/TOTAL` (or `/*`); undefined when absent or malformed. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const start = Number(m[1]);
  const endInclusive = Number(m[2]);
  if (endInclusive < start) return undefined;
  return m[3] === '*' ? { start, endInclusive } : { start, endInclusive, totalBytes: Number(m[3]) };
}

/** The total length of a 416 answer's `bytes * /TOTAL`, if given. */
export function parseUnsatisfiedRange(header: string | undefined): number | undefined {
  const m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(header ?? '');
  return m ? Number(m[1]) : undefined;
}

export type RangeRequest = { kind: 'none' } | { kind: 'range'; start: number; endInclusive: number } | { kind: 'unsatisfiable' };

/**
 * What a server should send for a Range header on a file of `sizeBytes` (RFC 9110 §14): one range
 * `a-b`, `a-` or `-suffix`; several ranges or a malformed header are served whole ("none").
 */
export function resolveRangeRequest(header: string | undefined, sizeBytes: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || sizeBytes === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, sizeBytes - suffix), endInclusive: sizeBytes - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? sizeBytes - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return { kind: 'none' };
  if (start >= sizeBytes) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, endInclusive: Math.min(last, sizeBytes - 1) };
}

/** Checks ranges against the payload size; returns them with `end` filled in. */
export function normalizeRanges(ranges: ByteRange[], sizeBytes: number): Array<{ start: number; end: number }> {
  return ranges.map((r) => {
    const end = r.end ?? sizeBytes;
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(end) || r.start < 0 || end < r.start || end > sizeBytes) {
      throw new RangeError(`Invalid byte range [${r.start}, ${r.end ?? 'end'}) of a ${sizeBytes}-byte payload`);
    }
    return { start: r.start, end };
  });
}
