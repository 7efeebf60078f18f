// The payload body over plain HTTP without proxy, read by a raw socket with large reads (issue 17):
// node's HTTP client reads 64 KiB at a time into a new buffer each and parses and emits every chunk,
// which costs the apply about 1.3 CPU-s per GiB; reading up to 512 KiB at a time into reused buffers
// (net's `onread`) costs about 0.4. The body chunks are views of those recycled read buffers (the
// apply's ByteReader gives each back once copied out; src/io/recycled-memory.ts), so a read allocates
// nothing. Only the simple case is read here: a GET answered with a Content-Length body. A redirect or an error answer comes back with its head and an empty body (the
// caller follows the redirect; nobody reads an error's body); a success without Content-Length
// (chunked) is left to the full client, which asks again: rawGet then resolves to undefined.

import net from 'node:net';
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { giveBack, type RecycledMemory } from '../io/recycled-memory.ts';
import { HttpTransportError, type HttpStreamResponse } from './http-transport.ts';

/** Bytes one socket read may return (the size of the RecycledMemory buffers; up to 12 of them kept: 6 MiB; an apply has up to 10 in use at once). */
export const RAW_READ_BYTES = 512 * 1024;
/** A response head longer than this is refused. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export interface RawGetOptions {
  url: URL;
  /** Request headers (lower-case names), user agent included. */
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** The buffers the socket reads into (RAW_READ_BYTES each); body chunks are views of them. */
  memory: RecycledMemory;
  connectTimeoutMs: number;
  responseTimeoutMs?: number | undefined;
  /** Turns a socket error into the transport's error (the same kinds as the full client's). */
  toError(e: unknown): HttpTransportError;
}

/** True when the raw reader may take this request: http, no user info in the URL. (Proxies are the caller's check.) */
export function rawGetApplies(url: URL): boolean {
  return url.protocol === 'http:' && url.username === '' && url.password === '';
}

interface Head {
  statusCode: number;
  headers: IncomingHttpHeaders;
}

function parseHead(text: string, url: string): Head {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new HttpTransportError('network', url, `Invalid HTTP status line "${statusLine.slice(0, 80)}"`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { statusCode: Number(m[1]), headers };
}

/** The body bytes to read: 0 for anything but a success; undefined leaves a success the raw reader cannot frame to the full client. */
function bodyLength(head: Head): number | undefined {
  if (head.statusCode < 200 || head.statusCode >= 300 || head.statusCode === 204) return 0;
  const length = head.headers['content-length'];
  if (head.headers['transfer-encoding'] !== undefined || length === undefined || !/^\d+$/.test(length)) return undefined;
  return Number(length);
}

/** Sends the GET and resolves with the response once its head is in; undefined when the full client must answer. */
export function rawGet(o: RawGetOptions): Promise<HttpStreamResponse | undefined> {
  const url = o.url.href;
  return new Promise((resolve, reject) => {
    let head: Buffer[] = [];
    let headBytes = 0;
    let body: Readable | undefined;
    let remaining = 0;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const clearTimers = () => timers.splice(0).forEach(clearTimeout);
    const fail = (e: HttpTransportError) => {
      clearTimers();
      o.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (!settled) {
        settled = true;
        reject(e);
      } else body?.destroy(e);
    };
    const onAbort = () => fail(new HttpTransportError('aborted', url, 'The request was aborted', { cause: o.signal?.reason }));
    /** Body bytes of one read (a view of its own read buffer); false pauses the socket (backpressure). */
    const deliver = (bytes: Buffer): boolean => {
      const take = bytes.subarray(0, Math.min(bytes.byteLength, remaining));
      remaining -= take.byteLength;
      if (take.byteLength === 0) giveBack(bytes); // nothing of it is handed on
      const more = take.byteLength === 0 || (body as Readable).push(take);
      if (remaining === 0) {
        o.signal?.removeEventListener('abort', onAbort);
        (body as Readable).push(null);
        socket.destroy();
        return false;
      }
      return more;
    };
    const onHead = (bytes: Buffer): boolean => {
      // The read buffer itself when the head is in one read (then the body's first bytes are a view of
      // it, handed on and given back as any other); else the head so far, copied, and this read.
      const all = head.length === 0 ? bytes : Buffer.concat([...head, bytes]);
      if (all !== bytes) giveBack(bytes);
      headBytes = all.byteLength;
      const end = all.indexOf(HEAD_END);
      if (end < 0) {
        if (headBytes > MAX_HEAD_BYTES) fail(new HttpTransportError('network', url, `The response head exceeds ${MAX_HEAD_BYTES} bytes`));
        head = [Buffer.from(all)];
        giveBack(bytes);
        return true;
      }
      clearTimers();
      const parsed = parseHead(all.subarray(0, end).toString('latin1'), url);
      const length = bodyLength(parsed);
      settled = true;
      if (length === undefined) {
        giveBack(bytes);
        o.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(undefined);
        return false;
      }
      remaining = length;
      // Object mode: each read's view is handed on as it is. In byte mode a consumer's read() joins
      // all the chunks waiting into one new buffer (a copy, and the read buffers never come back).
      body = new Readable({
        objectMode: true,
        highWaterMark: 2,
        read: () => socket.resume(),
        destroy: (error, callback) => {
          o.signal?.removeEventListener('abort', onAbort);
          socket.destroy();
          callback(error);
        },
      });
      resolve({ statusCode: parsed.statusCode, headers: parsed.headers, url, body });
      head = [];
      if (length === 0) {
        giveBack(bytes);
        return deliver(Buffer.alloc(0));
      }
      return deliver(all.subarray(end + HEAD_END.byteLength));
    };
    const socket = net.connect({
      host: o.url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(o.url.port || 80),
      onread: {
        buffer: () => o.memory.take(),
        callback: (n: number, buf: Uint8Array) => {
          const bytes = Buffer.from(buf.buffer, buf.byteOffset, n);
          try {
            return body ? deliver(bytes) : onHead(bytes);
          } catch (e) {
            fail(e instanceof HttpTransportError ? e : o.toError(e));
            return false;
          }
        },
      },
    });
    socket.once('connect', () => {
      clearTimers();
      if (o.responseTimeoutMs) {
        const ms = o.responseTimeoutMs;
        timers.push(setTimeout(() => fail(new HttpTransportError('timeout', url, `Timeout awaiting 'response' for ${ms}ms`)), ms));
      }
      const lines = [
        `GET ${o.url.pathname}${o.url.search} HTTP/1.1`,
        `host: ${o.url.host}`,
        ...Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`),
        'connection: close',
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('error', (e) => fail(o.toError(e)));
    socket.once('close', () => {
      if (remaining > 0 || !settled)
        fail(new HttpTransportError('network', url, `The connection closed ${settled ? `with ${remaining} body bytes missing` : 'before the response head'}`));
    });
    timers.push(setTimeout(() => fail(new HttpTransportError('timeout', url, `Timeout connecting for ${o.connectTimeoutMs}ms`)), o.connectTimeoutMs));
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
