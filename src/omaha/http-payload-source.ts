// The HTTP OpenPayload for the payload apply: fetches the asked byte ranges with Range requests (up to
// MAX_RANGES_PER_REQUEST per request as multipart/byteranges; on a server that answers that badly, one
// range per request spanning near ranges), reconnects from the last delivered byte when a connection
// drops, rotates through the offer's URLs after MaxFailureCountPerUrl failures, aborts a transfer
// below 10 B/s for 90 s, limits the rate.

import { Readable } from 'node:stream';
import { TokenBucket } from '../io/token-bucket.ts';
import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import {
  MAX_RANGES_PER_REQUEST,
  MAX_RANGES_PER_SPAN,
  normalizeRanges,
  RangeQueue,
  SPAN_GAP_BYTES,
  type ByteRange,
  type OpenPayload,
  type Range,
} from './byte-range.ts';
import type { OpenOptions } from '../payload/source.ts';
import type { BasicCredentials, HttpTransport } from './http-transport.ts';
import { CredentialPolicy, redactUrl } from './credential-policy.ts';
import { DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, DEFAULT_LOW_SPEED_TIME_MS, LowSpeedGuard } from './low-speed-guard.ts';
import { DEFAULT_MAX_FAILURE_COUNT_PER_URL } from './offer.ts';
import { AttemptError, fetchRanges, MultiRangeRefused } from './range-attempt.ts';
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
  /** A 200 answer to a Range request: skip the unwanted prefix (default) or fail; open()'s rangeIgnored overrides it. */
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
  /** Payload bytes received but not asked for: a 200's prefix, the gaps of a coalesced 206, the tail of a last chunk. */
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
  const download = new HttpPayloadDownload(options);
  return { open: (ranges, signal, openOptions) => download.open(ranges, signal, openOptions), stats: () => download.stats() };
}

/** One payload download: its URLs, their failure counts, the retry budget, the deadline and the figures. */
class HttpPayloadDownload {
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly maxTotalFailures: number;
  private readonly lowSpeedTimeMs: number;
  /** DOWNLOAD_TIMEOUT; it runs from the creation of the source (one source per payload download). */
  private readonly deadline: AbortSignal | undefined;
  /** DOWNLOAD_BPS: the write side's token bucket; the wait comes before a chunk is handed on. */
  private readonly bucket: TokenBucket | undefined;
  private readonly policy: CredentialPolicy;
  /** Without a policy (tests) credentials may go to any https host. */
  private readonly anyHttps: boolean;
  private readonly counters: DownloadStats = { bytesReceived: 0, bytesDelivered: 0, bytesDiscarded: 0, requests: 0, failures: 0, urlIndex: 0 };
  private readonly warned = new Set<string>();
  /** URLs that answered a multi-range request badly: one range per request from then on. */
  private readonly singleRange = new Set<string>();
  private urlFailures = 0;
  private nextRetryDelayMs: () => number;
  private lastError: AttemptError | undefined;

  constructor(private readonly options: HttpPayloadSourceOptions) {
    if (options.urls.length === 0) throw new UpdateEngineError('ERR_OMAHA_RESPONSE_INVALID', 'The offer has no payload URL');
    this.clock = options.clock ?? systemClock;
    this.maxFailures = Math.max(1, Math.min(MAX_FAILURE_COUNT_PER_URL_CAP, options.maxFailureCountPerUrl ?? DEFAULT_MAX_FAILURE_COUNT_PER_URL));
    this.maxTotalFailures = options.maxTotalFailures ?? DEFAULT_MAX_TOTAL_FAILURES;
    this.lowSpeedTimeMs = options.lowSpeedTimeMs ?? DEFAULT_LOW_SPEED_TIME_MS;
    this.deadline = options.deadlineMs !== undefined && options.deadlineMs > 0 ? AbortSignal.timeout(options.deadlineMs) : undefined;
    const bytesPerSecond = options.maxBytesPerSecond ?? 0;
    this.bucket = bytesPerSecond > 0 ? new TokenBucket({ bytesPerSecond, clock: this.clock }) : undefined;
    this.policy = options.credentialPolicy ?? new CredentialPolicy({ server: 'disabled', downloadHosts: [], credentials: options.credentials });
    this.anyHttps = options.credentialPolicy === undefined;
    this.nextRetryDelayMs = this.retryDelays();
  }

  stats(): DownloadStats {
    return { ...this.counters };
  }

  async open(ranges: ByteRange[], signal: AbortSignal, openOptions?: OpenOptions): Promise<Readable> {
    let normalized: Range[];
    try {
      normalized = normalizeRanges(ranges, this.options.sizeBytes);
    } catch (e) {
      throw new UpdateEngineError('ERR_INTERNAL', (e as Error).message, { cause: e });
    }
    if (signal.aborted) throw abortReason(signal);
    const rangeIgnored = openOptions?.rangeIgnored ?? this.options.onRangeIgnored ?? 'skip';
    // Object mode: each chunk goes on as the transport read it (a view of one of its recycled read
    // buffers, which the apply gives back). In byte mode a consumer's read() joins the chunks waiting
    // into a new buffer: a copy of every byte, and read buffers that never come back (issue 17).
    return Readable.from(this.fetchAll(new RangeQueue(normalized), signal, rangeIgnored), { objectMode: true, highWaterMark: 2 });
  }

  private retryDelays(): () => number {
    return backoffDelays({ initialMs: this.options.retryDelayMs ?? 1000, maxMs: this.options.maxRetryDelayMs ?? 30_000, jitter: 'none' });
  }

  /** A URL's consecutive failures start again (it delivered, or the next URL is tried). */
  private resetFailures(): void {
    this.urlFailures = 0;
    this.nextRetryDelayMs = this.retryDelays();
  }

  private details(): { urls: string[]; failures: number } {
    return { urls: this.options.urls.map(redactUrl), failures: this.counters.failures };
  }

  private deadlineError(): UpdateEngineError {
    const seconds = Math.round((this.options.deadlineMs ?? 0) / 1000);
    const message = `The payload download did not finish within DOWNLOAD_TIMEOUT (${seconds} s); ${this.counters.bytesDelivered} bytes arrived`;
    return new UpdateEngineError('ERR_DOWNLOAD_TRANSFER', message, { details: this.details() });
  }

  private exhausted(): UpdateEngineError {
    const last = this.lastError ?? new AttemptError('ERR_DOWNLOAD_TRANSFER', 'no attempt was made', false);
    const count = this.options.urls.length;
    const message = `Cannot download the payload: ${count === 1 ? 'its URL' : `all ${count} URLs`} failed; last error: ${last.message}`;
    return new UpdateEngineError(last.code, redactUrl(message), { cause: last, details: this.details() });
  }

  /** The URL to request (never with an embedded password) and the credentials it may receive. */
  private requestFor(url: string): { url: string; credentials?: BasicCredentials | undefined } {
    const r = this.policy.forRequest(url);
    if (r.refused === 'host' && this.anyHttps) return { url: r.url, credentials: this.options.credentials };
    if (r.refused && !this.warned.has(r.url)) {
      this.warned.add(r.url);
      const why = r.refused === 'host' ? "its host is neither SERVER's nor in DOWNLOAD_HOSTS" : 'credentials go over HTTPS only';
      this.options.logger?.warn({ url: redactUrl(url) }, `Not sending DOWNLOAD_USER/DOWNLOAD_PASSWORD to this payload URL: ${why}`);
    }
    return r.credentials ? { url: r.url, credentials: r.credentials } : { url: r.url };
  }

  /** Records a failed attempt; returns the pause before the next one (0: next URL, or given up). */
  private fail(error: AttemptError, progressed: boolean): number {
    const { counters, options } = this;
    counters.failures += 1;
    this.lastError = error;
    if (progressed) this.resetFailures();
    this.urlFailures += 1;
    const url = options.urls[counters.urlIndex];
    if (counters.failures >= this.maxTotalFailures) {
      counters.urlIndex = options.urls.length; // the budget of this check is spent
      const where = { url: url !== undefined ? redactUrl(url) : null, failures: counters.failures };
      options.logger?.warn(where, 'Payload download gave up: the retry budget of this check is spent');
      return 0;
    }
    if (!error.retryable || this.urlFailures >= this.maxFailures) {
      counters.urlIndex += 1;
      this.resetFailures();
      const next = options.urls[counters.urlIndex] ?? null;
      options.logger?.warn({ url, code: error.code, reason: error.message, next }, 'Payload URL failed; moving to the next one');
      return 0;
    }
    const delayMs = this.nextRetryDelayMs();
    const where = { url, code: error.code, reason: error.message, failures: this.urlFailures, maxFailures: this.maxFailures, delayMs };
    options.logger?.warn(where, 'Payload transfer failed; reconnecting');
    return delayMs;
  }

  /** Stops when the caller aborted or the deadline passed. */
  private checkStop(signal: AbortSignal): void {
    if (signal.aborted) throw abortReason(signal);
    if (this.deadline?.aborted) throw this.deadlineError();
  }

  /** Fetches the queue's ranges, several per request where the URL's server takes it, resuming after failures. */
  private async *fetchAll(queue: RangeQueue, signal: AbortSignal, rangeIgnored: 'skip' | 'fail'): AsyncGenerator<Buffer> {
    while (!queue.done) {
      this.checkStop(signal);
      const url = this.options.urls[this.counters.urlIndex];
      if (url === undefined) throw this.exhausted();
      const span = this.singleRange.has(url);
      const batch = span ? queue.next(MAX_RANGES_PER_SPAN, SPAN_GAP_BYTES) : queue.next(MAX_RANGES_PER_REQUEST);
      const outcome = yield* this.attempt(url, { ranges: batch, span }, signal, rangeIgnored);
      queue.advance(outcome.delivered);
      const pauseSignal = this.deadline ? AbortSignal.any([signal, this.deadline]) : signal;
      if (outcome.delayMs > 0) await this.clock.sleep(outcome.delayMs, pauseSignal).catch(() => undefined);
    }
  }

  /** The URL's server answered a multi-range request badly: one range (spanning near ranges) per request from now on (logged once). */
  private refuseMultiRange(url: string, error: MultiRangeRefused): void {
    this.singleRange.add(url);
    const message = 'Payload server does not answer several ranges per request well; asking one range per request (spanning near ranges) from now on';
    this.options.logger?.warn({ url: redactUrl(url), reason: error.message }, message);
  }

  /** One request for `ranges` from `url`: yields what arrives; returns how many bytes it delivered and the pause before the next. */
  private async *attempt(
    url: string,
    { ranges, span }: { ranges: Range[]; span: boolean },
    signal: AbortSignal,
    rangeIgnored: 'skip' | 'fail',
  ): AsyncGenerator<Buffer, { delivered: number; delayMs: number }> {
    const { options, counters } = this;
    const attempt = new AbortController();
    const guard = new LowSpeedGuard(options.lowSpeedLimitBytesPerSecond ?? DEFAULT_LOW_SPEED_LIMIT_BYTES_PER_SECOND, this.lowSpeedTimeMs);
    const wanted = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
    let delivered = 0;
    counters.requests += 1;
    try {
      const { url: requestUrl, credentials } = this.requestFor(url);
      for await (const chunk of fetchRanges({
        transport: options.transport,
        url: requestUrl,
        ranges,
        span,
        sizeBytes: options.sizeBytes,
        signal: AbortSignal.any([signal, attempt.signal, ...(this.deadline ? [this.deadline] : [])]),
        guard,
        responseTimeoutMs: this.lowSpeedTimeMs,
        credentials,
        onRangeIgnored: rangeIgnored,
        onReceived: (n) => (counters.bytesReceived += n),
        onDiscarded: (n) => (counters.bytesDiscarded += n),
      })) {
        await this.bucket?.take(chunk.length, signal);
        delivered += chunk.length;
        counters.bytesDelivered += chunk.length;
        yield chunk;
      }
      if (delivered >= wanted) {
        this.resetFailures();
        return { delivered, delayMs: 0 };
      }
      const at = (ranges[0] as Range).start;
      const short = new AttemptError('ERR_DOWNLOAD_TRANSFER', `"${url}" ended the body after ${delivered} of ${wanted} bytes asked from byte ${at}`, true);
      return { delivered, delayMs: this.fail(short, delivered >= PROGRESS_RESET_BYTES) };
    } catch (e) {
      this.checkStop(signal);
      if (e instanceof MultiRangeRefused) {
        this.refuseMultiRange(url, e);
        return { delivered, delayMs: 0 };
      }
      if (!(e instanceof AttemptError)) throw e;
      return { delivered, delayMs: this.fail(e, delivered >= PROGRESS_RESET_BYTES) };
    } finally {
      attempt.abort();
    }
  }
}
