// Byte ranges: the pure HTTP Range / Content-Range arithmetic that the download and the dev server
// share. ByteRange and OpenPayload are the payload apply's port (src/payload/source.ts), not copies.

import type { ByteRange } from '../payload/source.ts';

export type { ByteRange, OpenPayload } from '../payload/source.ts';

/** A byte range with its end filled in (exclusive). */
export type Range = { start: number; end: number };

/** The Range header for these ranges (`bytes=a-b,c-d`, inclusive last bytes). */
export function rangeHeader(ranges: readonly Range[]): string {
  return `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`;
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

export type Span = { start: number; endInclusive: number };

export type RangeRequest = { kind: 'none' } | ({ kind: 'range' } & Span) | { kind: 'multi'; ranges: Span[] } | { kind: 'unsatisfiable' };

/** More ranges than this in one request are served whole (Apache's MaxRanges is 200; nginx has no limit). */
export const MAX_SERVED_RANGES = 1000;

/** One `a-b`, `a-` or `-suffix`: its span, 'unsatisfiable', or undefined when malformed. */
function resolveSpec(spec: string, sizeBytes: number): Span | 'unsatisfiable' | undefined {
  const m = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || sizeBytes === 0) return 'unsatisfiable';
    return { start: Math.max(0, sizeBytes - suffix), endInclusive: sizeBytes - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? sizeBytes - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return undefined;
  if (start >= sizeBytes) return 'unsatisfiable';
  return { start, endInclusive: Math.min(last, sizeBytes - 1) };
}

/**
 * What a server should send for a Range header on a file of `sizeBytes` (RFC 9110 §14): one range,
 * several (multipart/byteranges, in the order asked), or the whole file ("none") for a malformed
 * header, more than MAX_SERVED_RANGES ranges, or ranges adding up to more than the file (nginx's rule
 * against amplification by overlapping ranges).
 */
export function resolveRangeRequest(header: string | undefined, sizeBytes: number): RangeRequest {
  const m = /^\s*bytes\s*=(.*)$/is.exec(header ?? '');
  if (!m) return { kind: 'none' };
  const specs = (m[1] as string).split(',').filter((spec) => spec.trim() !== '');
  if (specs.length === 0 || specs.length > MAX_SERVED_RANGES) return { kind: 'none' };
  const ranges: Span[] = [];
  for (const spec of specs) {
    const span = resolveSpec(spec, sizeBytes);
    if (span === undefined) return { kind: 'none' };
    if (span !== 'unsatisfiable') ranges.push(span);
  }
  const [first] = ranges;
  if (first === undefined) return { kind: 'unsatisfiable' };
  if (ranges.length === 1) return { kind: 'range', ...first };
  const total = ranges.reduce((sum, r) => sum + r.endInclusive - r.start + 1, 0);
  return total > sizeBytes ? { kind: 'none' } : { kind: 'multi', ranges };
}

/** Checks ranges against the payload size; returns them with `end` filled in. */
export function normalizeRanges(ranges: ByteRange[], sizeBytes: number): Range[] {
  return ranges.map((r) => {
    const end = r.end ?? sizeBytes;
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(end) || r.start < 0 || end < r.start || end > sizeBytes) {
      throw new RangeError(`Invalid byte range [${r.start}, ${r.end ?? 'end'}) of a ${sizeBytes}-byte payload`);
    }
    return { start: r.start, end };
  });
}

/** Limits of one multi-range request: Apache serves more than 200 ranges whole, and servers cap a header line at 8 KiB. */
export const MAX_RANGES_PER_REQUEST = 200;
export const MAX_RANGE_HEADER_BYTES = 6000;
/**
 * A server that takes one range per request (S3 answers several with the whole object) gets one range
 * spanning nearby asked ranges: gaps up to this are fetched and dropped, cheaper than a round trip.
 */
export const SPAN_GAP_BYTES = 64 * 1024;
export const MAX_RANGES_PER_SPAN = 4096;

/**
 * The ranges still to fetch, consumed from the front as bytes are delivered. `next` cuts the next
 * request: adjacent ranges merged, ascending and non-overlapping, within the count and header limits.
 */
export class RangeQueue {
  private readonly ranges: Range[];
  private index = 0;
  /** Where in ranges[index] the next byte is. */
  private position: number;

  constructor(ranges: readonly Range[]) {
    this.ranges = ranges.filter((r) => r.end > r.start);
    this.position = this.ranges[0]?.start ?? 0;
  }

  get done(): boolean {
    return this.index >= this.ranges.length;
  }

  /**
   * The ranges of the next request: at most `maxRanges` within the header budget; or, with
   * `spanGapBytes`, those that one single range can cover with gaps of at most that many bytes.
   */
  next(maxRanges: number, spanGapBytes?: number): Range[] {
    const batch: Range[] = [];
    let headerBytes = 'bytes='.length;
    for (let i = this.index; i < this.ranges.length; i++) {
      const r = this.ranges[i] as Range;
      const start = i === this.index ? this.position : r.start;
      const last = batch.at(-1);
      if (last && start === last.end) {
        last.end = r.end; // adjacent: one range
        continue;
      }
      if (last && (start < last.end || batch.length >= maxRanges)) break;
      if (spanGapBytes !== undefined) {
        if (last && start - last.end > spanGapBytes) break;
      } else {
        headerBytes += `${start}-${r.end - 1},`.length;
        if (last && headerBytes > MAX_RANGE_HEADER_BYTES) break;
      }
      batch.push({ start, end: r.end });
    }
    return batch;
  }

  /** Consumes `bytes` delivered bytes from the front. */
  advance(bytes: number): void {
    let left = bytes;
    while (left > 0 && !this.done) {
      const r = this.ranges[this.index] as Range;
      const step = Math.min(left, r.end - this.position);
      left -= step;
      this.position += step;
      if (this.position >= r.end) {
        this.index += 1;
        this.position = this.ranges[this.index]?.start ?? 0;
      }
    }
  }
}

/**
 * The bytes a request asked for, in order, matched against what an answer carries (file offset +
 * data): `start` checks where a part begins, `take` returns the wanted pieces of some data.
 */
export class WantedBytes {
  private index = 0;
  private position: number;

  constructor(private readonly ranges: readonly Range[]) {
    this.position = ranges[0]?.start ?? 0;
  }

  get done(): boolean {
    return this.index >= this.ranges.length;
  }

  /** The next byte wanted (the end of the last range once done). */
  get next(): number {
    return this.done ? (this.ranges.at(-1)?.end ?? 0) : this.position;
  }

  /** The wanted pieces of `data`, which holds the file's bytes from `offset`; the rest is `discarded`. */
  take(offset: number, data: Buffer): { pieces: Buffer[]; discarded: number } {
    const pieces: Buffer[] = [];
    let at = offset;
    let rest = data;
    while (rest.length > 0 && !this.done) {
      const range = this.ranges[this.index] as Range;
      if (at > this.position) break; // the answer skipped wanted bytes: its part check refuses it
      const skip = Math.min(rest.length, this.position - at);
      rest = rest.subarray(skip);
      at += skip;
      const n = Math.min(rest.length, range.end - this.position);
      if (n > 0) pieces.push(rest.subarray(0, n));
      rest = rest.subarray(n);
      at += n;
      this.position += n;
      if (this.position >= range.end) {
        this.index += 1;
        this.position = this.ranges[this.index]?.start ?? this.position;
      }
    }
    return { pieces, discarded: data.length - pieces.reduce((sum, p) => sum + p.length, 0) };
  }
}
