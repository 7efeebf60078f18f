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
import { CredentialPolicy, redactUrl } from './credential-policy.ts';
import { DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, DEFAULT_LOW_SPEED_TIME_MS, LowSpeedGuard } from './low-speed-guard.ts';
import { DEFAULT_MAX_FAILURE_COUNT_PER_URL } from './offer.ts';
import { AttemptError, fetchRange } from './range-attempt.ts';
import { backoffDelays } from '../platform/backoff.ts';

/** An attempt that delivered at least this much before failing resets its URL's failure count. */
export const PROGRESS_RESET_BYTES = 64 * 1024;
/** A server's MaxFailureCountPerUrl is honoured up to this (a hostile one cannot make us retry for ever). */
export const MAX_FAILURE_COUNT_PER_URL_CAP = 10;
/** Failed attempts allowed per payload download, over all URLs (the retry budget of one check). */
export const DEFAULT_MAX_TOTAL_FAILURES = 30;

export interface HttpPayloadSourceOptions {
  transport: HttpTransport;
  /** The offer's payload URLs, tried in order. */
  urls: string[];
  /** The offer's payload size: "to the end" means up to it, and the server must agree. */
  sizeBytes: number;
  /** Failures of one URL before moving to the next (the offer's MaxFailureCountPerUrl). */
  maxFailureCountPerUrl?: number;
  /** DOWNLOAD_USER / DOWNLOAD_PASSWORD: sent to https:// URLs only. */
  credentials?: BasicCredentials | undefined;
  /** Which hosts may receive credentials (SERVER's, DOWNLOAD_HOSTS); default: any https host (tests). */
  credentialPolicy?: CredentialPolicy;
  /** A 200 answer to a Range request: skip the unwanted prefix (default) or fail. */
  onRangeIgnored?: 'skip' | 'fail';
  lowSpeedLimitBytesPerSecond?: number;
  lowSpeedTimeMs?: number;
  /** Pause before retrying the same URL; doubles per consecutive failure up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** DOWNLOAD_BPS; 0 or undefined = no limit. */
  maxBytesPerSecond?: number;
  /** DOWNLOAD_TIMEOUT: the whole download (all ranges, retries and pauses) must end within this; undefined = none. */
  deadlineMs?: number;
  /** Failed attempts over all URLs before giving up (default DEFAULT_MAX_TOTAL_FAILURES). */
  maxTotalFailures?: number;
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
  const maxFailures = Math.max(1, Math.min(MAX_FAILURE_COUNT_PER_URL_CAP, options.maxFailureCountPerUrl ?? DEFAULT_MAX_FAILURE_COUNT_PER_URL));
  const maxTotalFailures = options.maxTotalFailures ?? DEFAULT_MAX_TOTAL_FAILURES;
  // The deadline runs from the creation of the source: one source per payload download.
  const deadline = options.deadlineMs !== undefined && options.deadlineMs > 0 ? AbortSignal.timeout(options.deadlineMs) : undefined;
  const deadlineError = () =>
    new UpdateEngineError(
      'ERR_DOWNLOAD_TRANSFER',
      `The payload download did not finish within DOWNLOAD_TIMEOUT (${Math.round((options.deadlineMs ?? 0) / 1000)} s); ${stats.bytesDelivered} bytes arrived`,
      {
        details: { urls: options.urls.map(redactUrl), failures: stats.failures },
      },
    );
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
  const warned = new Set<string>();
  const policy = options.credentialPolicy ?? new CredentialPolicy({ server: 'disabled', downloadHosts: [], credentials: options.credentials });
  const anyHttps = options.credentialPolicy === undefined;

  /** The URL to request (never with an embedded password) and the credentials it may receive. */
  function requestFor(url: string): { url: string; credentials?: BasicCredentials | undefined } {
    const r = policy.forRequest(url);
    if (r.refused === 'host' && anyHttps) return { url: r.url, credentials: options.credentials };
    if (r.refused && !warned.has(r.url)) {
      warned.add(r.url);
      const why = r.refused === 'host' ? "its host is neither SERVER's nor in DOWNLOAD_HOSTS" : 'credentials go over HTTPS only';
      options.logger?.warn({ url: redactUrl(url) }, `Not sending DOWNLOAD_USER/DOWNLOAD_PASSWORD to this payload URL: ${why}`);
    }
    return r.credentials ? { url: r.url, credentials: r.credentials } : { url: r.url };
  }

  function exhausted(): UpdateEngineError {
    const last = lastError ?? new AttemptError('ERR_DOWNLOAD_TRANSFER', 'no attempt was made', false);
    const count = options.urls.length;
    return new UpdateEngineError(
      last.code,
      redactUrl(`Cannot download the payload: ${count === 1 ? 'its URL' : `all ${count} URLs`} failed; last error: ${last.message}`),
      {
        cause: last,
        details: { urls: options.urls.map(redactUrl), failures: stats.failures },
      },
    );
  }

  /** Records a failed attempt; returns the pause before the next one. */
  function fail(error: AttemptError, progressed: boolean): number {
    stats.failures += 1;
    lastError = error;
    if (progressed) resetFailures();
    urlFailures += 1;
    const url = options.urls[stats.urlIndex];
    if (stats.failures >= maxTotalFailures) {
      stats.urlIndex = options.urls.length; // the budget of this check is spent
      options.logger?.warn(
        { url: url !== undefined ? redactUrl(url) : null, failures: stats.failures },
        'Payload download gave up: the retry budget of this check is spent',
      );
      return 0;
    }
    if (!error.retryable || urlFailures >= maxFailures) {
      stats.urlIndex += 1;
      resetFailures();
      options.logger?.warn(
        { url, code: error.code, reason: error.message, next: options.urls[stats.urlIndex] ?? null },
        'Payload URL failed; moving to the next one',
      );
      return 0;
    }
    const delayMs = nextRetryDelayMs();
    options.logger?.warn(
      { url, code: error.code, reason: error.message, failures: urlFailures, maxFailures, delayMs },
      'Payload transfer failed; reconnecting',
    );
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
        if (deadline?.aborted) throw deadlineError();
        const url = options.urls[stats.urlIndex];
        if (url === undefined) throw exhausted();
        const attempt = new AbortController();
        const guard = new LowSpeedGuard(options.lowSpeedLimitBytesPerSecond ?? DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, lowSpeedTimeMs);
        const before = position;
        let delayMs = 0;
        stats.requests += 1;
        try {
          const { url: requestUrl, credentials } = requestFor(url);
          for await (const chunk of fetchRange({
            transport: options.transport,
            url: requestUrl,
            from: position,
            end: range.end,
            sizeBytes: options.sizeBytes,
            signal: AbortSignal.any([signal, attempt.signal, ...(deadline ? [deadline] : [])]),
            guard,
            responseTimeoutMs: lowSpeedTimeMs,
            credentials,
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
            delayMs = fail(
              new AttemptError('ERR_DOWNLOAD_TRANSFER', `"${url}" ended the body at byte ${position}, before byte ${range.end}`, true),
              position - before >= PROGRESS_RESET_BYTES,
            );
          } else {
            resetFailures();
          }
        } catch (e) {
          if (signal.aborted) throw abortReason(signal);
          if (deadline?.aborted) throw deadlineError();
          if (!(e instanceof AttemptError)) throw e;
          delayMs = fail(e, position - before >= PROGRESS_RESET_BYTES);
        } finally {
          attempt.abort();
        }
        if (delayMs > 0) await clock.sleep(delayMs, deadline ? AbortSignal.any([signal, deadline]) : signal).catch(() => undefined);
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
