// The update check and its events over plain HTTP without proxy, by Node's own client (issue 17):
// got costs the daemon about 15 MiB of memory and 80 ms of start-up, and a plain-http daemon needs it
// for nothing else. Only the simple case is answered here: a redirect is left to the full client (got
// asks again from the start and follows it, with the credential rules of got-transport.ts), and
// plainPost then resolves to undefined. Timeouts and failure kinds are the full client's.

import http from 'node:http';
import { HttpTransportError, type HttpPostResponse } from './http-transport.ts';

export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface PlainPostOptions {
  url: URL;
  body: string;
  /** Request headers, user agent included. */
  headers: Record<string, string>;
  agent: http.Agent;
  signal?: AbortSignal | undefined;
  maxResponseBytes: number;
  connectTimeoutMs: number;
  /** From the request sent to the response head. */
  responseTimeoutMs?: number | undefined;
  /** The whole exchange, body included. */
  totalTimeoutMs?: number | undefined;
  /** Turns a socket error into the transport's error (the same kinds as the full client's). */
  toError(e: unknown): HttpTransportError;
}

/** POSTs `body`; resolves with the answer (its body capped), or undefined for a redirect. */
export function plainPost(o: PlainPostOptions): Promise<HttpPostResponse | undefined> {
  const url = o.url.href;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = () => {
      settled = true;
      for (const t of timers.splice(0)) clearTimeout(t);
      o.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (e: HttpTransportError) => {
      if (settled) return;
      settle();
      request.destroy();
      reject(e);
    };
    const onAbort = () => fail(new HttpTransportError('aborted', url, 'The request was aborted', { cause: o.signal?.reason }));
    const timeout = (message: string, ms: number): NodeJS.Timeout => {
      const timer = setTimeout(() => fail(new HttpTransportError('timeout', url, `${message} for ${ms}ms`)), ms);
      timers.push(timer);
      return timer;
    };
    const request = http.request(o.url, {
      method: 'POST',
      agent: o.agent,
      headers: { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) },
    });
    if (o.totalTimeoutMs) timeout("Timeout awaiting 'request'", o.totalTimeoutMs);
    request.once('socket', (socket) => {
      const sent = () => {
        if (o.responseTimeoutMs) timeout("Timeout awaiting 'response'", o.responseTimeoutMs);
      };
      if (!socket.connecting) return sent();
      const connecting = timeout('Timeout connecting', o.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(connecting);
        sent();
      });
    });
    request.on('error', (e) => fail(o.toError(e)));
    request.once('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(statusCode) && response.headers.location !== undefined) {
        settle();
        response.resume();
        resolve(undefined);
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      const finish = (truncated: boolean) => {
        if (settled) return;
        settle();
        const all = Buffer.concat(chunks);
        resolve({ statusCode, headers: response.headers, body: truncated ? all.subarray(0, o.maxResponseBytes + 1) : all, truncated });
      };
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.byteLength;
        if (total <= o.maxResponseBytes) return;
        finish(true);
        request.destroy();
      });
      response.once('end', () => finish(false));
      response.on('error', (e) => fail(o.toError(e)));
      response.once('close', () => {
        if (!response.complete) fail(new HttpTransportError('network', url, 'The connection closed before the end of the response body'));
      });
    });
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    request.end(o.body);
  });
}
