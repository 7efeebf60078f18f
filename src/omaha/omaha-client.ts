// OmahaClient: sends update checks and events to SERVER over an HttpTransport. The check is retried
// with exponential backoff on network failures and 5xx; events are sent once (the daemon keeps
// undelivered ones). HTTP errors become ERR_OMAHA_HTTP with the status (Omaha code 2000 + status).

import type { Logger } from 'pino';
import { UpdateEngineError, isUpdateEngineError } from '../errors.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import type { HttpTransport } from './http-transport.ts';
import type { CheckResult } from './offer.ts';
import { buildEventRequest, buildUpdateCheckRequest, type EventRequestParams, type UpdateCheckRequestParams } from './request-builder.ts';
import { MAX_RESPONSE_BYTES, parseEventResponse, parseUpdateCheckResponse } from './response-parser.ts';
import { backoffDelays } from '../platform/backoff.ts';

export interface CheckRetryPolicy {
  /** Attempts in all, including the first; default 3. */
  attempts: number;
  /** Pause before the first retry; doubles per retry, with +/-25 % jitter; default 2 s. */
  baseDelayMs: number;
  /** Upper bound of one pause; default 30 s. */
  maxDelayMs: number;
}

export interface OmahaClientOptions {
  /** SERVER: the Omaha endpoint URL. */
  serverUrl: string;
  transport: HttpTransport;
  retry?: Partial<CheckRetryPolicy>;
  /** Time allowed for the response headers; default 60 s. */
  responseTimeoutMs?: number;
  /** Time allowed for one whole exchange, body included; default 120 s. */
  totalTimeoutMs?: number;
  clock?: Clock;
  /** For the retry jitter; default Math.random. */
  random?: () => number;
  logger?: Logger;
}

const DEFAULT_RETRY: CheckRetryPolicy = { attempts: 3, baseDelayMs: 2000, maxDelayMs: 30_000 };

/** Whether a failed check is worth retrying at once (network trouble, 5xx, 429), not a bad answer. */
export function isRetryableCheckError(e: UpdateEngineError): boolean {
  if (e.code === 'ERR_OMAHA_REQUEST') return true;
  if (e.code === 'ERR_OMAHA_HTTP') return e.httpStatus === undefined || e.httpStatus >= 500 || e.httpStatus === 429 || e.httpStatus === 408;
  return false;
}

export class OmahaClient {
  private readonly retry: CheckRetryPolicy;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly options: OmahaClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** POSTs one request; returns the body of a 2xx answer (capped at 1 MiB + 1 byte for the parser to refuse). */
  private async post(xml: string, what: string, signal?: AbortSignal): Promise<Buffer> {
    const url = this.options.serverUrl;
    let response;
    try {
      response = await this.options.transport.post(url, xml, {
        headers: { 'content-type': 'text/xml' },
        maxResponseBytes: MAX_RESPONSE_BYTES,
        responseTimeoutMs: this.options.responseTimeoutMs ?? 60_000,
        totalTimeoutMs: this.options.totalTimeoutMs ?? 120_000,
        signal,
      });
    } catch (e) {
      if (signal?.aborted)
        throw isUpdateEngineError(signal.reason) ? signal.reason : new UpdateEngineError('ERR_ABORTED', `The ${what} was cancelled`, { cause: e });
      throw new UpdateEngineError('ERR_OMAHA_REQUEST', `Cannot send the ${what} to "${url}": ${(e as Error).message}`, { cause: e });
    }
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new UpdateEngineError('ERR_OMAHA_HTTP', `The Omaha server "${url}" answered the ${what} with HTTP ${response.statusCode}`, {
        httpStatus: response.statusCode,
      });
    }
    return response.body;
  }

  /** Sends an update check (with its 3/2 or rollback event); retries network failures and 5xx with backoff. */
  async checkForUpdate(params: UpdateCheckRequestParams, signal?: AbortSignal): Promise<CheckResult> {
    const xml = buildUpdateCheckRequest(params);
    const nextDelayMs = backoffDelays({ initialMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs, jitter: 'quarter', random: this.random });
    for (let attempt = 1; ; attempt++) {
      try {
        const body = await this.post(xml, 'update check', signal);
        const result = parseUpdateCheckResponse(body, { appId: params.appId });
        this.options.logger?.info(
          { result: result.kind, version: result.kind === 'update' ? result.version : undefined, attempt },
          'Omaha update check answered',
        );
        return result;
      } catch (e) {
        if (!isUpdateEngineError(e) || !isRetryableCheckError(e) || attempt >= this.retry.attempts || signal?.aborted) throw e;
        const delayMs = nextDelayMs();
        this.options.logger?.warn({ code: e.code, reason: e.message, attempt, delayMs }, 'Omaha update check failed; retrying');
        await this.clock.sleep(delayMs, signal);
      }
    }
  }

  /** Sends one event-only request (13/1, 14/1, 3/1, 3/0, 3/9). Throws on failure; no retries. */
  async sendEvent(params: EventRequestParams, signal?: AbortSignal): Promise<void> {
    const what = `event ${params.event.eventType}/${params.event.eventResult}`;
    const body = await this.post(buildEventRequest(params), what, signal);
    parseEventResponse(body, { appId: params.appId });
    this.options.logger?.debug({ event: what }, 'Omaha event delivered');
  }
}
