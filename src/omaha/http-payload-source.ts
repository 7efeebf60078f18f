// The HTTP OpenPayload for the payload apply: fetches the asked byte ranges with Range requests,
// reconnects from the last delivered byte when a connection drops, rotates through the offer's URLs
// after MaxFailureCountPerUrl failures, aborts a transfer below 10 B/s for 90 s, limits the rate.

import { Readable } from 'node:stream';
import { TokenBucket } from '../io/token-bucket.ts';
import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import { normalizeRanges, type ByteRange, type OpenPayload } from './byte-range.ts';
import type { BasicCredentials, HttpTransport } from './http-transport.ts';
import { DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, DEFAULT_LOW_SPEED_TIME_MS, LowSpeedGuard } from './low-speed-guard.ts';
import { DEFAULT_MAX_FAILURE_COUNT_PER_URL } from './offer.ts';
import { AttemptError, fetchRange } from './range-attempt.ts';
import { backoffDelays } from '../platform/backoff.ts';

/** An attempt that delivered at least this much before failing resets its URL's failure count. */
export const PROGRESS_RESET_BYTES = 64 * 1024;

export interface HttpPayloadSourceOptions {
  transport: HttpTransport;
  /** The offer's payload URLs, tried in order. */
  urls: string[];
  /** The offer's payload size: "to the end" means up to it, and the server must agree. */
  sizeBytes: number;
  /** Failures of one URL before moving to the next (the offer's MaxFailureCountPerUrl). */
  maxFailureCountPerUrl?: number;
  /** DOWNLOAD_USER / DOWNLOAD_PASSWORD: sent to https:// URLs only. */
  credentials?: BasicCredentials;
  /** A 200 answer to a Range request: skip the unwanted prefix (default) or fail. */
  onRangeIgnored?: 'skip' | 'fail';
  lowSpeedLimitBytesPerSecond?: number;
  lowSpeedTimeMs?: number;
  /** Pause before retrying the same URL; doubles per consecutive failure up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** DOWNLOAD_BPS; 0 or undefined = no limit. */
  maxBytesPerSecond?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Figures of the source since it was created. */
export interface DownloadStats {
  /** Body bytes read from the network, including bytes discarded from 200 answers. */
  bytesReceived: number;
  /** Bytes handed to the consumer. */
  bytesDelivered: number;
  /** Bytes of 200 answers to Range requests dropped before the asked offset. */
  bytesDiscarded: number;
  /** HTTP requests made. */
  requests: number;
  /** Failed attempts (each followed by a reconnect or a move to the next URL). */
  failures: number;
  /** Index in `urls` of the URL in use. */
  urlIndex: number;
}

export interface HttpPayloadSource {
  open: OpenPayload;
  stats(): DownloadStats;
}

function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof UpdateEngineError ? reason : new UpdateEngineError('ERR_ABORTED', 'The payload download was cancelled', { cause: reason });
}

/** Creates the OpenPayload for an offer. URL failures are remembered across open() calls. */
export function createHttpPayloadSource(options: HttpPayloadSourceOptions): HttpPayloadSource {
  if (options.urls.length === 0) throw new UpdateEngineError('ERR_OMAHA_RESPONSE_INVALID', 'The offer has no payload URL');
  const clock = options.clock ?? systemClock;
  const maxFailures = options.maxFailureCountPerUrl ?? DEFAULT_MAX_FAILURE_COUNT_PER_URL;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  const lowSpeedTimeMs = options.lowSpeedTimeMs ?? DEFAULT_LOW_SPEED_TIME_MS;
  const stats: DownloadStats = { bytesReceived: 0, bytesDelivered: 0, bytesDiscarded: 0, requests: 0, failures: 0, urlIndex: 0 };
  let urlFailures = 0;
  const retryDelays = () => backoffDelays({ initialMs: retryDelayMs, maxMs: maxRetryDelayMs, jitter: 'none' });
  let nextRetryDelayMs = retryDelays();
  /** A URL's consecutive failures start again (it delivered, or the next URL is tried). */
  const resetFailures = () => {
    urlFailures = 0;
    nextRetryDelayMs = retryDelays();
  };
  let lastError: AttemptError | undefined;
  let warnedPlainCredentials = false;

  function credentialsFor(url: string): BasicCredentials | undefined {
    if (!options.credentials) return undefined;
    if (url.startsWith('https:')) return options.credentials;
    if (!warnedPlainCredentials) options.logger?.warn({ url }, 'DOWNLOAD_USER/DOWNLOAD_PASSWORD are sent over HTTPS only: not sending them to this http:// URL');
    warnedPlainCredentials = true;
    return undefined;
  }

  function exhausted(): UpdateEngineError {
    const last = lastError ?? new AttemptError('ERR_DOWNLOAD_TRANSFER', 'no attempt was made', false);
    const count = options.urls.length;
    return new UpdateEngineError(last.code, `Cannot download the payload: ${count === 1 ? 'its URL' : `all ${count} URLs`} failed; last error: ${last.message}`, {
      cause: last,
      details: { urls: options.urls, failures: stats.failures },
    });
  }

  /** Records a failed attempt; returns the pause before the next one. */
  function fail(error: AttemptError, progressed: boolean): number {
    stats.failures += 1;
    lastError = error;
    if (progressed) resetFailures();
    urlFailures += 1;
    const url = options.urls[stats.urlIndex];
    if (!error.retryable || urlFailures >= maxFailures) {
      stats.urlIndex += 1;
      resetFailures();
      options.logger?.warn({ url, code: error.code, reason: error.message, next: options.urls[stats.urlIndex] ?? null }, 'Payload URL failed; moving to the next one');
      return 0;
    }
    const delayMs = nextRetryDelayMs();
    options.logger?.warn({ url, code: error.code, reason: error.message, failures: urlFailures, maxFailures, delayMs }, 'Payload transfer failed; reconnecting');
    return delayMs;
  }

  // DOWNLOAD_BPS: the same token bucket as the write side (src/io/token-bucket.ts); the wait comes
  // before a chunk is handed on, so the rate is never exceeded and the socket is read more slowly.
  const bucket = (options.maxBytesPerSecond ?? 0) > 0 ? new TokenBucket({ bytesPerSecond: options.maxBytesPerSecond as number, clock }) : undefined;

  async function* fetchAll(ranges: Array<{ start: number; end: number }>, signal: AbortSignal): AsyncGenerator<Buffer> {
    for (const range of ranges) {
      let position = range.start;
      while (position < range.end) {
        if (signal.aborted) throw abortReason(signal);
        const url = options.urls[stats.urlIndex];
        if (url === undefined) throw exhausted();
        const attempt = new AbortController();
        const guard = new LowSpeedGuard(options.lowSpeedLimitBytesPerSecond ?? DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, lowSpeedTimeMs);
        const before = position;
        let delayMs = 0;
        stats.requests += 1;
        try {
          const credentials = credentialsFor(url);
          for await (const chunk of fetchRange({
            transport: options.transport,
            url,
            from: position,
            end: range.end,
            sizeBytes: options.sizeBytes,
            signal: AbortSignal.any([signal, attempt.signal]),
            guard,
            responseTimeoutMs: lowSpeedTimeMs,
            ...(credentials ? { credentials } : {}),
            onRangeIgnored: options.onRangeIgnored ?? 'skip',
            onReceived: (n) => (stats.bytesReceived += n),
            onDiscarded: (n) => (stats.bytesDiscarded += n),
          })) {
            await bucket?.take(chunk.length, signal);
            position += chunk.length;
            stats.bytesDelivered += chunk.length;
            yield chunk;
          }
          if (position < range.end) {
            delayMs = fail(new AttemptError('ERR_DOWNLOAD_TRANSFER', `"${url}" ended the body at byte ${position}, before byte ${range.end}`, true), position - before >= PROGRESS_RESET_BYTES);
          } else {
            resetFailures();
          }
        } catch (e) {
          if (signal.aborted) throw abortReason(signal);
          if (!(e instanceof AttemptError)) throw e;
          delayMs = fail(e, position - before >= PROGRESS_RESET_BYTES);
        } finally {
          attempt.abort();
        }
        if (delayMs > 0) await clock.sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }

  const open: OpenPayload = async (ranges: ByteRange[], signal: AbortSignal) => {
    let normalized: Array<{ start: number; end: number }>;
    try {
      normalized = normalizeRanges(ranges, options.sizeBytes);
    } catch (e) {
      throw new UpdateEngineError('ERR_INTERNAL', (e as Error).message, { cause: e });
    }
    if (signal.aborted) throw abortReason(signal);
    return Readable.from(fetchAll(normalized, signal), { objectMode: false, highWaterMark: 64 * 1024 });
  };

  return { open, stats: () => ({ ...stats }) };
}
