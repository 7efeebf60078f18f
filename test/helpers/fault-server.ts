// A fault-injecting HTTP server on 127.0.0.1 for the transport, client and download tests: serves a
// payload with Range (or an XML body to POSTs) and, per request, injects one fault from a plan:
// resets mid-body, stalls, 5xx, redirect loops, a wrong Content-Length, 200 to a Range request,
// corrupt bytes, huge or malformed XML. Several ranges are answered multipart/byteranges (the body
// faults then hit that body), or coalesced into one 206, or with their parts reversed. Records every request and the body bytes it sent.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { resolveRangeRequest, type Span } from '../../src/omaha/byte-range.ts';
import { byterangesLayout } from '../../src/omaha/multipart-ranges.ts';

export type Fault =
  | { kind: 'ok' }
  /** Send this many body bytes of the response, then reset the connection. */
  | { kind: 'reset-after'; bytes: number }
  /** Send this many body bytes, then send nothing more and keep the connection open. */
  | { kind: 'stall-after'; bytes: number }
  /** Accept the request and never answer (no headers). */
  | { kind: 'no-headers' }
  /** Send the body in small pieces: `bytes` every `intervalMs`. */
  | { kind: 'trickle'; bytes: number; intervalMs: number }
  | { kind: 'status'; status: number; body?: string }
  /** Redirect to the same path forever. */
  | { kind: 'redirect-loop' }
  | { kind: 'redirect'; location: string; status?: number }
  /** Announce Content-Length = real length + delta (positive: the body ends early; negative: extra bytes follow). */
  | { kind: 'wrong-length'; delta: number }
  /** Answer 200 with the whole file, whatever the Range header says. */
  | { kind: 'ignore-range' }
  /** Answer a request for several ranges with one 206 from the first range's start to the last one's end. */
  | { kind: 'coalesce' }
  /** Answer a request for several ranges with its parts in reverse order. */
  | { kind: 'reverse-parts' }
  /** Answer 206 with a Content-Range that starts elsewhere than asked. */
  | { kind: 'wrong-range-start'; shift: number }
  /** Serve the bytes with the byte at this file offset flipped. */
  | { kind: 'corrupt'; offset: number }
  /** Answer with this body (any method), e.g. an Omaha response or malformed XML. */
  | { kind: 'body'; body: string | Buffer; status?: number; contentType?: string }
  /** Stream this many bytes of an XML-looking body. */
  | { kind: 'huge-body'; bytes: number };

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  fault: Fault['kind'];
  /** Body bytes written in the response. */
  bytesSent: number;
}

export interface FaultServerOptions {
  /** The payload served to GET (any path). */
  content?: Buffer;
  /** The fault for the n-th request (0-based); default: the queue, then 'ok'. */
  plan?: (request: RecordedRequest, index: number) => Fault;
  /** Faults consumed one per request, then 'ok'. */
  faults?: Fault[];
  /** The body of an 'ok' answer to POST. */
  postBody?: string;
}

export interface FaultServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** All body bytes sent so far, over all requests. */
  bytesSent(): number;
  /** Replaces the remaining fault queue. */
  setFaults(faults: Fault[]): void;
  close(): Promise<void>;
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  return { start: Number(m[1]), end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const content = options.content ?? Buffer.alloc(0);
  const queue = [...(options.faults ?? [])];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        fault: 'ok',
        bytesSent: 0,
      };
      const fault = options.plan ? options.plan(record, requests.length) : (queue.shift() ?? { kind: 'ok' });
      record.fault = fault.kind;
      requests.push(record);
      respond(req, res, record, fault);
    });
  });

  function write(res: http.ServerResponse, record: RecordedRequest, data: Buffer): void {
    record.bytesSent += data.length;
    res.write(data);
  }

  function respond(req: http.IncomingMessage, res: http.ServerResponse, record: RecordedRequest, fault: Fault): void {
    const socket = req.socket;
    if (fault.kind === 'no-headers') return;
    if (fault.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain' });
      res.end(fault.body ?? `fault ${fault.status}\n`);
      return;
    }
    if (fault.kind === 'redirect-loop' || fault.kind === 'redirect') {
      res.writeHead(fault.kind === 'redirect' ? (fault.status ?? 302) : 302, { location: fault.kind === 'redirect' ? fault.location : record.url });
      res.end();
      return;
    }
    if (fault.kind === 'body') {
      const body = Buffer.from(fault.body);
      res.writeHead(fault.status ?? 200, { 'content-type': fault.contentType ?? 'text/xml', 'content-length': body.length });
      write(res, record, body);
      res.end();
      return;
    }
    if (fault.kind === 'huge-body') {
      res.writeHead(200, { 'content-type': 'text/xml' });
      write(res, record, Buffer.from('<response>'));
      const piece = Buffer.alloc(64 * 1024, 'x');
      let left = fault.bytes;
      const pump = () => {
        while (left > 0 && !res.destroyed) {
          const n = Math.min(left, piece.length);
          left -= n;
          record.bytesSent += n;
          if (!res.write(piece.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('</response>');
      };
      pump();
      return;
    }
    // The payload to GET, or the 'ok' answer to POST (which takes the same body faults, without ranges).
    const isPost = req.method === 'POST';
    let data = isPost ? Buffer.from(options.postBody ?? '<response protocol="3.0"/>') : content;
    if (fault.kind === 'corrupt') {
      data = Buffer.from(data);
      if (fault.offset < data.length) data[fault.offset] = (data[fault.offset] as number) ^ 0xff;
    }
    const asked = isPost || fault.kind === 'ignore-range' ? undefined : resolveRangeRequest(req.headers.range, data.length);
    const range =
      asked?.kind === 'multi' && fault.kind === 'coalesce'
        ? { start: (asked.ranges[0] as Span).start, end: (asked.ranges.at(-1) as Span).endInclusive }
        : fault.kind === 'ignore-range' || isPost
          ? undefined
          : parseRange(req.headers.range, data.length);
    if (asked?.kind === 'multi' && fault.kind !== 'coalesce') {
      const parts = fault.kind === 'reverse-parts' ? [...asked.ranges].reverse() : asked.ranges;
      const boundary = `fault${requests.length}`;
      const layout = byterangesLayout(parts, data.length, boundary, 'application/octet-stream');
      const pieces = parts.flatMap((r, i) => [Buffer.from(layout.heads[i] as string), data.subarray(r.start, r.endInclusive + 1)]);
      const headers = { 'content-type': `multipart/byteranges; boundary=${boundary}` };
      sendBody(res, socket, record, fault, 206, headers, Buffer.concat([...pieces, Buffer.from(layout.tail)]));
      return;
    }
    let status = 200;
    let start = 0;
    let end = data.length - 1;
    const headers: http.OutgoingHttpHeaders = isPost
      ? { 'content-type': 'text/xml' }
      : { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (range) {
      if (range.start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        res.end();
        return;
      }
      status = 206;
      ({ start, end } = range);
      const shownStart = fault.kind === 'wrong-range-start' ? start + fault.shift : start;
      headers['content-range'] = `bytes ${shownStart}-${end}/${data.length}`;
    }
    sendBody(res, socket, record, fault, status, headers, data.subarray(start, end + 1));
  }

  /** Sends a payload answer's body with the fault's damage (resets, stalls, trickles, wrong lengths). */
  function sendBody(
    res: http.ServerResponse,
    socket: Socket,
    record: RecordedRequest,
    fault: Fault,
    status: number,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
  ): void {
    headers['content-length'] = fault.kind === 'wrong-length' ? body.length + fault.delta : body.length;
    res.writeHead(status, headers);
    if (fault.kind === 'reset-after' || fault.kind === 'stall-after') {
      write(res, record, body.subarray(0, fault.bytes));
      if (fault.kind === 'reset-after') {
        const t = setTimeout(() => {
          timers.delete(t);
          socket.resetAndDestroy();
        }, 20);
        timers.add(t);
      }
      return;
    }
    if (fault.kind === 'trickle') {
      let offset = 0;
      const tick = () => {
        if (res.destroyed) return;
        const piece = body.subarray(offset, offset + fault.bytes);
        offset += piece.length;
        if (piece.length > 0) write(res, record, piece);
        if (offset >= body.length) {
          res.end();
          return;
        }
        const t = setTimeout(() => {
          timers.delete(t);
          tick();
        }, fault.intervalMs);
        timers.add(t);
      };
      tick();
      return;
    }
    if (fault.kind === 'wrong-length' && fault.delta > 0) {
      write(res, record, body);
      const t = setTimeout(() => {
        timers.delete(t);
        socket.destroy();
      }, 20);
      timers.add(t);
      return;
    }
    if (fault.kind === 'wrong-length' && fault.delta < 0) {
      // Node would refuse to write more than Content-Length: send the extra bytes on the raw socket.
      const announced = Math.max(0, body.length + fault.delta);
      write(res, record, body.subarray(0, announced));
      res.end(() => {
        if (!socket.destroyed) socket.end(body.subarray(announced));
      });
      record.bytesSent += body.length - announced;
      return;
    }
    write(res, record, body);
    res.end();
  }

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    bytesSent: () => requests.reduce((sum, r) => sum + r.bytesSent, 0),
    setFaults: (faults) => {
      queue.splice(0, queue.length, ...faults);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
