// One HTTP attempt at some byte ranges of the payload on one URL: sends the Range request (several
// ranges in one header when asked), checks the answer (206 with the right Content-Range, a multipart/
// byteranges body, a coalesced 206, or a 200 whose unwanted prefix is skipped) and yields exactly the
// asked bytes under the low-speed guard. Failures say whether to retry the URL or to stop multi-range.

import { UpdateEngineError, type ErrorCode } from '../errors.ts';
import { keepOut } from '../io/recycled-memory.ts';
import { parseContentRange, parseUnsatisfiedRange, rangeHeader, WantedBytes, type ContentRange, type Range } from './byte-range.ts';
import { ByterangesParser, byterangesBoundary, MultipartError, type MultipartEvent } from './multipart-ranges.ts';
import { HttpTransportError, type BasicCredentials, type HttpTransport } from './http-transport.ts';
import { LowSpeedError, type LowSpeedGuard } from './low-speed-guard.ts';

/** A failed attempt: `retryable` = the same URL may work next time; otherwise move to the next URL. */
export class AttemptError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toUpdateEngineError(): UpdateEngineError {
    return new UpdateEngineError(this.code, this.message, { cause: this.cause });
  }
}

/**
 * The server answered a request for several ranges in a way we do not take (200, 416, a broken or
 * reordered multipart, fewer ranges than asked): ask it for one range per request from now on.
 */
export class MultiRangeRefused extends Error {}

export interface AttemptOptions {
  transport: HttpTransport;
  url: string;
  /** The ranges wanted: ascending, not overlapping, not adjacent (RangeQueue.next). */
  ranges: Range[];
  /** Ask for one range spanning them all (a server that takes one range per request), not for each. */
  span?: boolean;
  sizeBytes: number;
  signal: AbortSignal;
  guard: LowSpeedGuard;
  /** Time allowed for the response headers. */
  responseTimeoutMs: number;
  credentials?: BasicCredentials | undefined;
  /** What to do with a 200 answer to a Range request: skip the unwanted prefix, or fail (ERR_DOWNLOAD_RANGE_IGNORED). */
  onRangeIgnored: 'skip' | 'fail';
  /** Called for every body byte received, kept or not. */
  onReceived(bytes: number): void;
  /** Called for received payload bytes that were not asked for (a 200's prefix, the gaps of a coalesced part). */
  onDiscarded(bytes: number): void;
}

/** Statuses that, to a request for several ranges, say "not like this" rather than "not this file". */
const REFUSES_MULTI_RANGE = new Set([400, 413, 431, 501]);

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The ranges the Range header names. */
function requested(o: AttemptOptions): Range[] {
  const first = o.ranges[0] as Range;
  return o.span ? [{ start: first.start, end: (o.ranges.at(-1) as Range).end }] : o.ranges;
}

function asked(ranges: Range[]): string {
  const first = ranges[0] as Range;
  return ranges.length === 1 ? `bytes ${first.start}-${first.end - 1}` : `${ranges.length} ranges from byte ${first.start}`;
}

function checkTotal(o: AttemptOptions, total: number | undefined): void {
  if (total !== undefined && total !== o.sizeBytes) {
    throw new AttemptError('ERR_PAYLOAD_SIZE_MISMATCH', `"${o.url}" serves a ${total}-byte file, but the offer says ${o.sizeBytes} bytes`, false);
  }
}

/** How the body carries the bytes: one part (a 206's Content-Range, or a 200's whole file), or multipart. */
type Answer = { kind: 'single'; part: ContentRange; whole: boolean } | { kind: 'multipart'; boundary: string };

/** Checks the response status and headers. */
function classify(o: AttemptOptions, status: number, headers: Record<string, string | string[] | undefined>): Answer {
  const where = `"${o.url}"`;
  const ranges = requested(o);
  const multi = ranges.length > 1;
  if (status === 206) {
    const boundary = byterangesBoundary(headers['content-type'] as string | undefined);
    if (boundary !== undefined) return { kind: 'multipart', boundary };
    const header = headers['content-range'] as string | undefined;
    const part = parseContentRange(header);
    if (!part && multi) throw new MultiRangeRefused(`answered 206 with neither multipart/byteranges nor a Content-Range`);
    if (!part) throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} answered 206 without a valid Content-Range ("${String(header ?? '')}")`, false);
    checkTotal(o, part.totalBytes);
    return { kind: 'single', part, whole: false };
  }
  if (status === 200) {
    checkTotal(o, headers['content-length'] === undefined ? undefined : Number(headers['content-length']));
    if (multi) throw new MultiRangeRefused('answered 200 (the whole file)');
    const range = ranges[0] as Range;
    if (o.onRangeIgnored === 'fail' && (range.start > 0 || range.end < o.sizeBytes)) {
      throw new UpdateEngineError('ERR_DOWNLOAD_RANGE_IGNORED', `${where} ignored the Range request for ${asked(ranges)} (answered 200 with the whole file)`);
    }
    return { kind: 'single', part: { start: 0, endInclusive: o.sizeBytes - 1 }, whole: true };
  }
  if (status === 416) {
    checkTotal(o, parseUnsatisfiedRange(headers['content-range'] as string | undefined));
    if (multi) throw new MultiRangeRefused('answered HTTP 416');
    throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} cannot serve ${asked(ranges)} (HTTP 416)`, false);
  }
  // A header too long for the server (nginx: 400 beyond 8 KiB), or a server without multi-range (MinIO: 400).
  if (multi && REFUSES_MULTI_RANGE.has(status)) throw new MultiRangeRefused(`answered HTTP ${status}`);
  throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} answered HTTP ${status}`, retryableStatus(status));
}

/** A part must begin at the next wanted byte (parts in request order; coalesced parts start at their first range). */
function checkPart(o: AttemptOptions, part: ContentRange, wanted: WantedBytes): void {
  checkTotal(o, part.totalBytes);
  if (part.start === wanted.next) return;
  const message = `answered bytes ${part.start}-${part.endInclusive} where bytes ${wanted.next}- were next`;
  const ranges = requested(o);
  if (ranges.length > 1) throw new MultiRangeRefused(message);
  const range = ranges[0] as Range;
  const single = `"${o.url}" answered bytes ${part.start}-${part.endInclusive} to a request for bytes ${range.start}-${range.end - 1}`;
  throw new AttemptError('ERR_DOWNLOAD_TRANSFER', single, false);
}

function transportFailure(e: unknown, url: string, received: number): Error {
  if (e instanceof AttemptError || e instanceof MultiRangeRefused || e instanceof UpdateEngineError) return e;
  if (e instanceof LowSpeedError) return new AttemptError('ERR_DOWNLOAD_TRANSFER', `"${url}": ${e.message}`, true, { cause: e });
  const reason = e instanceof Error ? e.message : String(e);
  const after = received > 0 ? ` after ${received} bytes` : '';
  const retryable = !(e instanceof HttpTransportError && (e.kind === 'redirects' || e.kind === 'tls'));
  return new AttemptError('ERR_DOWNLOAD_TRANSFER', `Transfer from "${url}" failed${after}: ${reason}`, retryable, { cause: e });
}

/** Turns body chunks into (file offset, data) pieces of parts, checking each part as it starts. */
class AnswerReader {
  private readonly parser: ByterangesParser | undefined;
  private offset = 0;
  /** Bytes left in the current part (single answers only: the multipart parser knows its own). */
  private partLeft = 0;

  constructor(
    private readonly o: AttemptOptions,
    answer: Answer,
    private readonly wanted: WantedBytes,
  ) {
    this.parser = answer.kind === 'multipart' ? new ByterangesParser(answer.boundary) : undefined;
    if (answer.kind === 'single') {
      if (!answer.whole) checkPart(o, answer.part, wanted);
      this.offset = answer.part.start;
      this.partLeft = answer.part.endInclusive - answer.part.start + 1;
    }
  }

  /** The answer is complete (a closed multipart, a single part received whole) though bytes are still wanted. */
  get ended(): boolean {
    return this.parser ? this.parser.closed : this.partLeft === 0;
  }

  /** The wanted pieces of one body chunk. */
  read(chunk: Buffer): Buffer[] {
    const pieces: Buffer[] = [];
    let events: MultipartEvent[];
    try {
      events = this.parser ? this.parser.push(chunk) : [{ kind: 'data', data: chunk.subarray(0, this.partLeft) }];
    } catch (e) {
      if (e instanceof MultipartError) throw new MultiRangeRefused(`sent a broken multipart/byteranges body: ${e.message}`);
      throw e;
    }
    for (const event of events) {
      if (event.kind === 'part') {
        checkPart(this.o, event.range, this.wanted);
        this.offset = event.range.start;
        continue;
      }
      if (!this.parser) this.partLeft -= event.data.length;
      const taken = this.wanted.take(this.offset, event.data);
      this.offset += event.data.length;
      if (taken.discarded > 0) this.o.onDiscarded(taken.discarded);
      pieces.push(...taken.pieces);
    }
    return pieces;
  }
}

/**
 * Yields the asked bytes, concatenated in order (or a prefix of them when the connection ends early:
 * the caller resumes). Throws AttemptError, MultiRangeRefused, or ERR_DOWNLOAD_RANGE_IGNORED.
 */
export async function* fetchRanges(o: AttemptOptions): AsyncGenerator<Buffer> {
  let body: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
  let received = 0;
  try {
    const response = await o.guard.wait(
      o.transport.get(o.url, {
        headers: { range: rangeHeader(requested(o)), 'accept-encoding': 'identity' },
        signal: o.signal,
        responseTimeoutMs: o.responseTimeoutMs,
        credentials: o.credentials,
      }),
    );
    body = response.body;
    const wanted = new WantedBytes(o.ranges);
    const reader = new AnswerReader(o, classify(o, response.statusCode, response.headers), wanted);
    const chunks = response.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    while (!wanted.done && !reader.ended) {
      const next = await o.guard.wait(chunks.next());
      if (next.done) return;
      received += next.value.length;
      o.guard.add(next.value.length);
      o.onReceived(next.value.length);
      const pieces = reader.read(next.value);
      // Several views of one read buffer: the consumer would give it back after the first (recycled-memory.ts).
      if (pieces.length > 1) keepOut(next.value);
      for (const piece of pieces) yield piece;
    }
    if (!wanted.done && requested(o).length > 1) throw new MultiRangeRefused(`answered fewer ranges than asked (up to byte ${wanted.next})`);
  } catch (e) {
    if (o.signal.aborted) throw o.signal.reason;
    throw transportFailure(e, o.url, received);
  } finally {
    body?.destroy();
  }
}
