// One HTTP attempt at the bytes [from, end) of the payload on one URL: sends the Range request,
// checks the answer (206 with the right Content-Range, or 200 whose unwanted prefix is skipped),
// and yields exactly the asked bytes under the low-speed guard. Failures say whether to retry the URL.

import { UpdateEngineError, type ErrorCode } from '../errors.ts';
import { parseContentRange, parseUnsatisfiedRange, rangeHeader } from './byte-range.ts';
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

export interface AttemptOptions {
  transport: HttpTransport;
  url: string;
  from: number;
  end: number;
  sizeBytes: number;
  signal: AbortSignal;
  guard: LowSpeedGuard;
  /** Time allowed for the response headers. */
  responseTimeoutMs: number;
  credentials?: BasicCredentials | undefined;
  /** What to do with a 200 answer to a Range request: skip the unwanted prefix, or fail. */
  onRangeIgnored: 'skip' | 'fail';
  /** Called for every body byte received, kept or not. */
  onReceived(bytes: number): void;
  /** Called for bytes of a 200 answer dropped before `from`. */
  onDiscarded(bytes: number): void;
}

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Checks the response status and headers; returns how many leading body bytes to drop. */
function bytesToSkip(o: AttemptOptions, status: number, headers: Record<string, string | string[] | undefined>): number {
  const where = `"${o.url}"`;
  if (status === 206) {
    const cr = parseContentRange(headers['content-range'] as string | undefined);
    if (!cr)
      throw new AttemptError(
        'ERR_DOWNLOAD_TRANSFER',
        `${where} answered 206 without a valid Content-Range ("${String(headers['content-range'] ?? '')}")`,
        false,
      );
    if (cr.totalBytes !== undefined && cr.totalBytes !== o.sizeBytes) {
      throw new AttemptError('ERR_PAYLOAD_SIZE_MISMATCH', `${where} serves a ${cr.totalBytes}-byte file, but the offer says ${o.sizeBytes} bytes`, false);
    }
    if (cr.start !== o.from)
      throw new AttemptError(
        'ERR_DOWNLOAD_TRANSFER',
        `${where} answered bytes ${cr.start}-${cr.endInclusive} to a request for bytes ${o.from}-${o.end - 1}`,
        false,
      );
    return 0;
  }
  if (status === 200) {
    const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    if (length !== undefined && length !== o.sizeBytes) {
      throw new AttemptError('ERR_PAYLOAD_SIZE_MISMATCH', `${where} serves a ${length}-byte file, but the offer says ${o.sizeBytes} bytes`, false);
    }
    if (o.from > 0 && o.onRangeIgnored === 'fail') {
      throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} ignored the Range request for bytes ${o.from}- (answered 200 with the whole file)`, false);
    }
    return o.from;
  }
  if (status === 416) {
    const total = parseUnsatisfiedRange(headers['content-range'] as string | undefined);
    if (total !== undefined && total !== o.sizeBytes) {
      throw new AttemptError('ERR_PAYLOAD_SIZE_MISMATCH', `${where} serves a ${total}-byte file, but the offer says ${o.sizeBytes} bytes`, false);
    }
    throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} cannot serve bytes ${o.from}-${o.end - 1} (HTTP 416)`, false);
  }
  throw new AttemptError('ERR_DOWNLOAD_TRANSFER', `${where} answered HTTP ${status}`, retryableStatus(status));
}

function transportFailure(e: unknown, url: string, received: number): AttemptError {
  if (e instanceof AttemptError) return e;
  if (e instanceof LowSpeedError) return new AttemptError('ERR_DOWNLOAD_TRANSFER', `"${url}": ${e.message}`, true, { cause: e });
  const reason = e instanceof Error ? e.message : String(e);
  const after = received > 0 ? ` after ${received} bytes` : '';
  const retryable = !(e instanceof HttpTransportError && (e.kind === 'redirects' || e.kind === 'tls'));
  return new AttemptError('ERR_DOWNLOAD_TRANSFER', `Transfer from "${url}" failed${after}: ${reason}`, retryable, { cause: e });
}

/** Yields the bytes [from, end) (or a prefix of them when the connection ends early; the caller resumes). */
export async function* fetchRange(o: AttemptOptions): AsyncGenerator<Buffer> {
  let body: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
  let received = 0;
  try {
    const response = await o.guard.wait(
      o.transport.get(o.url, {
        headers: { range: rangeHeader(o.from, o.end), 'accept-encoding': 'identity' },
        signal: o.signal,
        responseTimeoutMs: o.responseTimeoutMs,
        credentials: o.credentials,
      }),
    );
    body = response.body;
    let skip = bytesToSkip(o, response.statusCode, response.headers);
    let wanted = o.end - o.from;
    const reader = response.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    while (wanted > 0) {
      const next = await o.guard.wait(reader.next());
      if (next.done) return;
      let chunk = next.value;
      received += chunk.length;
      o.guard.add(chunk.length);
      o.onReceived(chunk.length);
      if (skip > 0) {
        const dropped = Math.min(skip, chunk.length);
        skip -= dropped;
        o.onDiscarded(dropped);
        chunk = chunk.subarray(dropped);
      }
      if (chunk.length === 0) continue;
      if (chunk.length > wanted) chunk = chunk.subarray(0, wanted);
      wanted -= chunk.length;
      yield chunk;
    }
  } catch (e) {
    if (o.signal.aborted) throw o.signal.reason;
    throw transportFailure(e, o.url, received);
  } finally {
    body?.destroy();
  }
}
