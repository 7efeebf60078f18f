// The development Omaha server behind `update-engine serve`: answers update checks at /v1/update/ in
// Nebraska's format from a catalog of payloads, records events, and serves the payloads with Range
// (several ranges per request as multipart/byteranges, like nginx).
// Small and honest: loopback by default, no state beyond the event log. Fleets use Nebraska.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import { resolveRangeRequest, type Span } from './byte-range.ts';
import { byterangesLayout } from './multipart-ranges.ts';
import { selectPayload, type DevPayload } from './dev-catalog.ts';
import { MAX_REQUEST_BYTES } from './request-builder.ts';
import { parseOmahaRequest, type ReceivedApp } from './request-parser.ts';
import { buildOmahaResponse, type AppAnswer } from './response-builder.ts';

/** One received event, as `serve --events` writes it (one JSON object per line). */
export interface RecordedEvent {
  machineid: string;
  version: string;
  eventtype: number;
  eventresult: number;
  errorcode: number | null;
  previousversion: string | null;
}

export interface DevServerOptions {
  payloads: readonly DevPayload[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Offer payloads only to clients on this track; default any track. */
  track?: string | undefined;
  /** Called for each event before the answer is sent (so a client that got its answer finds the event recorded). */
  onEvent?(event: RecordedEvent): Promise<void> | void;
  /** updatecheck@PollInterval in seconds; default none. */
  pollIntervalSeconds?: number;
  /**
   * Replaces the plain "newest newer payload" rule (tests: test/helpers/nebraska-server.ts models
   * Nebraska's rollout policy and instance statuses). Called for every app of every request, after
   * onEvent, with the payload the plain rule would offer; its answer is used for the updatecheck.
   */
  decide?(app: ReceivedApp, candidate: DevPayload | undefined): DevDecision | Promise<DevDecision>;
  logger?: Logger;
  /** Tests: answer every payload request with 200 and the whole file, whatever its Range header says. */
  ignoreRange?: boolean;
}

/** What `decide` answers: offer the candidate, no update, or an error-* app status. */
export type DevDecision = { kind: 'offer' } | { kind: 'noupdate' } | { kind: 'error'; reason: string };

export interface DevServer {
  /** http://HOST:PORT */
  url: string;
  /** http://HOST:PORT/v1/update/ */
  updateUrl: string;
  port: number;
  close(): Promise<void>;
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function readBody(req: http.IncomingMessage, limitBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > limitBytes) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const PAYLOAD_TYPE = 'application/octet-stream';
const READ_BYTES = 1024 * 1024;

/** A multipart/byteranges body: each part's framing, then its bytes read from one open file. */
async function* multipartBody(path: string, ranges: readonly Span[], layout: ReturnType<typeof byterangesLayout>): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    for (const [i, r] of ranges.entries()) {
      yield Buffer.from(layout.heads[i] as string, 'latin1');
      for (let at = r.start; at <= r.endInclusive; ) {
        const n = Math.min(READ_BYTES, r.endInclusive + 1 - at);
        const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(n), 0, n, at);
        if (bytesRead === 0) throw new Error(`${path} is shorter than it was`);
        at += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    }
    yield Buffer.from(layout.tail, 'latin1');
  } finally {
    await file.close();
  }
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger;
  let base = '';

  async function answerApp(app: ReceivedApp, origin: string): Promise<AppAnswer> {
    for (const e of app.events) {
      await options.onEvent?.({
        machineid: app.machineId,
        version: app.version,
        eventtype: e.eventType,
        eventresult: e.eventResult,
        errorcode: e.errorCode ?? null,
        previousversion: e.previousVersion ?? null,
      });
    }
    const answer: AppAnswer = { appId: app.appId, ping: app.ping, events: app.events.length };
    const candidate = options.decide ? selectPayload(options.payloads, app, options.track) : undefined;
    const decision = options.decide ? await options.decide(app, candidate) : undefined;
    if (app.updateCheck && decision?.kind === 'error') {
      answer.updateCheck = { kind: 'error', reason: decision.reason };
    } else if (app.updateCheck) {
      const p = decision === undefined ? selectPayload(options.payloads, app, options.track) : decision.kind === 'offer' ? candidate : undefined;
      logger?.info({ machineId: app.machineId, version: app.version, track: app.track, offer: p?.version ?? null }, 'Update check');
      answer.updateCheck = p
        ? {
            kind: 'update',
            codebase: `${origin}/payloads/${p.index}/`,
            packageName: p.fileName,
            version: p.version,
            sizeBytes: p.sizeBytes,
            sha256Base64: p.sha256Base64,
            sha1Base64: p.sha1Base64,
            pollIntervalSeconds: options.pollIntervalSeconds,
          }
        : { kind: 'noupdate' };
    }
    return answer;
  }

  async function handleOmaha(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (body === undefined) return send(res, 413, `Omaha requests are limited to ${MAX_REQUEST_BYTES} bytes\n`);
    let request;
    try {
      request = parseOmahaRequest(body);
    } catch (e) {
      if (e instanceof UpdateEngineError) return send(res, 400, `${e.message}\n`);
      throw e;
    }
    const hostHeader = req.headers.host;
    const origin = hostHeader !== undefined && /^[A-Za-z0-9.:[\]-]+$/.test(hostHeader) ? `http://${hostHeader}` : base;
    const apps: AppAnswer[] = [];
    for (const app of request.apps) apps.push(await answerApp(app, origin));
    send(res, 200, buildOmahaResponse(apps), 'text/xml; charset=utf-8');
  }

  async function handlePayload(req: http.IncomingMessage, res: http.ServerResponse, p: DevPayload): Promise<void> {
    const range = options.ignoreRange ? ({ kind: 'none' } as const) : resolveRangeRequest(req.headers.range, p.sizeBytes);
    const headers: http.OutgoingHttpHeaders = { 'content-type': PAYLOAD_TYPE, 'accept-ranges': 'bytes' };
    if (range.kind === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${p.sizeBytes}` });
      res.end();
      return;
    }
    let body: () => AsyncIterable<Buffer>;
    if (range.kind === 'multi') {
      const boundary = randomBytes(12).toString('hex');
      const layout = byterangesLayout(range.ranges, p.sizeBytes, boundary, PAYLOAD_TYPE);
      res.writeHead(206, { ...headers, 'content-type': `multipart/byteranges; boundary=${boundary}`, 'content-length': layout.lengthBytes });
      body = () => multipartBody(p.path, range.ranges, layout);
    } else {
      const span = range.kind === 'range' ? range : { start: 0, endInclusive: p.sizeBytes - 1 };
      if (range.kind === 'range') headers['content-range'] = `bytes ${span.start}-${span.endInclusive}/${p.sizeBytes}`;
      headers['content-length'] = span.endInclusive - span.start + 1;
      res.writeHead(range.kind === 'range' ? 206 : 200, headers);
      // 1 MiB reads: with the default 64 KiB the server spent about 2 CPU-s per GiB served (measured).
      body = () => createReadStream(p.path, { start: span.start, end: span.endInclusive, highWaterMark: READ_BYTES });
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(body(), res).catch((e: unknown) => {
      logger?.debug({ err: e, path: p.path }, 'Payload transfer ended early');
    });
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handled = (async () => {
      if (path === '/v1/update/' || path === '/v1/update') {
        if (req.method !== 'POST') return send(res, 405, 'POST Omaha requests here\n');
        return handleOmaha(req, res);
      }
      const m = /^\/payloads\/(\d+)\/([^/]+)$/.exec(path);
      const p = m ? options.payloads.find((x) => x.index === Number(m[1]) && x.fileName === decodeURIComponent(m[2] as string)) : undefined;
      if (p && (req.method === 'GET' || req.method === 'HEAD')) return handlePayload(req, res, p);
      return send(res, 404, 'Not found\n');
    })();
    handled.catch((e: unknown) => {
      logger?.error({ err: e }, 'Request failed');
      if (!res.headersSent) send(res, 500, 'Internal error\n');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new UpdateEngineError('ERR_USAGE', `Cannot listen on ${hostForUrl(host)}:${options.port ?? 0}: ${e.message}`, { cause: e })),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://${hostForUrl(host)}:${port}`;
  return {
    url: base,
    updateUrl: `${base}/v1/update/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
