// multipart/byteranges (RFC 9110 §14.6, RFC 2046 §5.1): the answer to a request for several ranges.
// The parser streams: it keeps at most one part's header block (bounded), takes each part's length
// from its Content-Range and hands the data on without scanning it for the boundary (as nginx and
// Apache write them: CRLF "--B" CRLF headers CRLF CRLF data ... CRLF "--B--" CRLF). The layout
// helper writes the same framing for our servers (`update-engine serve`, the tests' fault server).

import { parseContentRange, type ContentRange, type Span } from './byte-range.ts';

/** A part header block larger than this is refused (nginx writes about 100 bytes). */
export const MAX_PART_HEADER_BYTES = 8192;

/** The answer does not follow multipart/byteranges. */
export class MultipartError extends Error {}

/** The boundary of a `multipart/byteranges; boundary=...` Content-Type, undefined for any other type. */
export function byterangesBoundary(contentType: string | undefined): string | undefined {
  const [type, ...params] = (contentType ?? '').split(';');
  if (type?.trim().toLowerCase() !== 'multipart/byteranges') return undefined;
  for (const param of params) {
    const m = /^\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s";]{1,70}))\s*$/i.exec(param);
    if (m) return m[1] ?? m[2];
  }
  return undefined;
}

export type MultipartEvent = { kind: 'part'; range: ContentRange } | { kind: 'data'; data: Buffer };

type State = 'delimiter' | 'headers' | 'data' | 'closed';

/** Push the body's chunks in order; each push returns the parts and data found. Throws MultipartError. */
export class ByterangesParser {
  private state: State = 'delimiter';
  private pending: Buffer = Buffer.alloc(0);
  private left = 0;
  private first = true;
  private readonly delimiter: Buffer;

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`--${boundary}`, 'latin1');
  }

  /** True once the closing delimiter arrived. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  push(chunk: Buffer): MultipartEvent[] {
    const events: MultipartEvent[] = [];
    let rest = chunk;
    while (rest.length > 0 && this.state !== 'closed') {
      if (this.state === 'data') {
        const n = Math.min(this.left, rest.length);
        events.push({ kind: 'data', data: rest.subarray(0, n) });
        this.left -= n;
        rest = rest.subarray(n);
        if (this.left === 0) this.state = 'delimiter';
        continue;
      }
      this.pending = this.pending.length === 0 ? rest : Buffer.concat([this.pending, rest]);
      rest = Buffer.alloc(0);
      const consumed = this.state === 'delimiter' ? this.readDelimiter() : this.readHeaders(events);
      if (consumed === undefined) {
        if (this.pending.length > MAX_PART_HEADER_BYTES) throw new MultipartError(`a part header longer than ${MAX_PART_HEADER_BYTES} bytes`);
        this.pending = Buffer.from(this.pending); // do not pin the caller's chunk
        break;
      }
      rest = this.pending.subarray(consumed);
      this.pending = Buffer.alloc(0);
    }
    return events;
  }

  /** The delimiter line (after the preamble or a part's data); returns the bytes consumed, undefined for more. */
  private readDelimiter(): number | undefined {
    const buf = this.pending;
    let at = 0;
    if (this.first) {
      // The preamble (nginx: one CRLF) ends where a line starts with the delimiter.
      at = buf.indexOf(this.delimiter);
      while (at > 0 && buf[at - 1] !== 0x0a) at = buf.indexOf(this.delimiter, at + 1);
      if (at < 0) return undefined;
    } else {
      if (buf[0] === 0x0d) at += 1;
      if (at >= buf.length) return undefined;
      if (buf[at] !== 0x0a) throw new MultipartError('no line break after a part');
      at += 1;
      const have = buf.subarray(at, at + this.delimiter.length);
      if (!this.delimiter.subarray(0, have.length).equals(have)) throw new MultipartError('a part is not followed by the boundary');
    }
    const after = at + this.delimiter.length;
    if (buf.length < after + 2) return undefined;
    if (buf[after] === 0x2d && buf[after + 1] === 0x2d) {
      this.state = 'closed';
      return buf.length; // the epilogue is ignored
    }
    const eol = buf.indexOf(0x0a, after);
    if (eol < 0) return undefined;
    if (!/^[ \t]*\r?$/.test(buf.toString('latin1', after, eol))) throw new MultipartError('text after the boundary');
    this.first = false;
    this.state = 'headers';
    return eol + 1;
  }

  /** A part's header block up to its empty line; emits the part. */
  private readHeaders(events: MultipartEvent[]): number | undefined {
    const buf = this.pending;
    const end = /\r?\n\r?\n/.exec(buf.toString('latin1', 0, Math.min(buf.length, MAX_PART_HEADER_BYTES + 4)));
    const blank = buf[0] === 0x0a ? { index: 0, length: 1 } : buf[0] === 0x0d && buf[1] === 0x0a ? { index: 0, length: 2 } : undefined;
    const found = blank ?? (end ? { index: end.index, length: end[0].length } : undefined);
    if (!found) return undefined;
    let contentRange: string | undefined;
    for (const line of buf.toString('latin1', 0, found.index).split(/\r?\n/)) {
      const m = /^content-range\s*:(.*)$/i.exec(line);
      if (m) contentRange = m[1];
    }
    const range = parseContentRange(contentRange);
    if (!range) throw new MultipartError(`a part without a valid Content-Range ("${contentRange?.trim() ?? ''}")`);
    events.push({ kind: 'part', range });
    this.left = range.endInclusive - range.start + 1;
    this.state = 'data';
    return found.index + found.length;
  }
}

/** The framing of a multipart/byteranges body: the text before each part, the closing text, the total length. */
export function byterangesLayout(
  ranges: readonly Span[],
  sizeBytes: number,
  boundary: string,
  contentType: string,
): { heads: string[]; tail: string; lengthBytes: number } {
  const heads = ranges.map(
    (r) => `\r\n--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${r.start}-${r.endInclusive}/${sizeBytes}\r\n\r\n`,
  );
  const tail = `\r\n--${boundary}--\r\n`;
  const data = ranges.reduce((sum, r) => sum + r.endInclusive - r.start + 1, 0);
  const lengthBytes = data + Buffer.byteLength(tail) + heads.reduce((sum, h) => sum + Buffer.byteLength(h), 0);
  return { heads, tail, lengthBytes };
}
