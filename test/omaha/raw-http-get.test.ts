// The raw-socket GET of plain http:// payload bodies: exact Content-Length bodies, heads and empty
// bodies for redirects and errors, the full client's turn for a chunked success, and the failures the
// payload download retries (a body cut short, an abort) with the transport's error kinds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GotTransport, toTransportError } from '../../src/omaha/got-transport.ts';
import { HttpTransportError } from '../../src/omaha/http-transport.ts';
import { RAW_READ_BYTES, rawGet } from '../../src/omaha/raw-http-get.ts';
import { giveBack, RecycledMemory } from '../../src/io/recycled-memory.ts';
import { createHttpPayloadSource } from '../../src/omaha/http-payload-source.ts';
import { seededBytes } from '../payload/helpers.ts';

const content = seededBytes(3 * 1024 * 1024 + 17, 5);
let server: http.Server;
let base: string;
const seen: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/file') {
      res.writeHead(200, { 'content-length': content.length, 'x-twice': ['a', 'b'] });
      res.end(content);
    } else if (req.url === '/chunked') {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write(content.subarray(0, 1000));
      res.end(content.subarray(1000, 5000));
    } else if (req.url === '/missing') {
      res.writeHead(404, { 'transfer-encoding': 'chunked' });
      res.end('not here');
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/file', 'content-length': 0 });
      res.end();
    } else if (req.url === '/short') {
      res.writeHead(200, { 'content-length': 10_000 });
      res.write(content.subarray(0, 4000));
      setTimeout(() => res.destroy(), 20);
    } else if (req.url === '/slow') {
      res.writeHead(200, { 'content-length': 10_000 });
      res.write(content.subarray(0, 100));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const get = (path: string, signal?: AbortSignal) =>
  rawGet({
    url: new URL(`${base}${path}`),
    headers: { range: 'bytes=0-' },
    signal,
    memory: new RecycledMemory(RAW_READ_BYTES, 2),
    connectTimeoutMs: 5000,
    toError: (e) => toTransportError(e, path),
  });

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('rawGet', () => {
  it('reads a Content-Length body exactly, with the head lower-cased and repeated headers joined', async () => {
    const r = await get('/file');
    expect(r?.statusCode).toBe(200);
    expect(r?.headers['x-twice']).toBe('a, b');
    expect((await readAll(r!.body)).equals(content)).toBe(true);
    expect(seen.at(-1)?.range).toBe('bytes=0-');
  });

  it('leaves a chunked success to the full client, and answers an error or a redirect with its head and an empty body', async () => {
    expect(await get('/chunked')).toBeUndefined();
    const missing = await get('/missing');
    expect(missing?.statusCode).toBe(404);
    expect((await readAll(missing!.body)).length).toBe(0);
    const moved = await get('/moved');
    expect(moved?.statusCode).toBe(302);
    expect(moved?.headers.location).toBe('/file');
  });

  it('a body cut short fails with kind "network"', async () => {
    const r = await get('/short');
    const e = await readAll(r!.body).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HttpTransportError);
    expect((e as HttpTransportError).kind).toBe('network');
  });

  it('an abort during the body fails it with kind "aborted", whatever the reason is (a timeout signal)', async () => {
    const r = await get('/slow', AbortSignal.timeout(100));
    const e = await readAll(r!.body).catch((x: unknown) => x);
    expect((e as HttpTransportError).kind).toBe('aborted');
  });
});

describe('read buffers', () => {
  /** Reads a body slowly (the socket runs ahead), giving each chunk back once used, as the apply does. */
  async function drain(body: AsyncIterable<unknown>): Promise<{ bytes: Buffer; sizes: Set<number>; memories: Set<ArrayBufferLike> }> {
    const parts: Buffer[] = [];
    const sizes = new Set<number>();
    const memories = new Set<ArrayBufferLike>();
    for await (const chunk of body) {
      const view = chunk as Buffer;
      sizes.add(view.buffer.byteLength);
      memories.add(view.buffer);
      parts.push(Buffer.from(view));
      await new Promise((r) => setTimeout(r, 5));
      giveBack(view);
    }
    return { bytes: Buffer.concat(parts), sizes, memories };
  }

  it('hands each read on as a view of its read buffer (also the first, with the head), and reads into the buffers given back', async () => {
    const r = await get('/file');
    const { bytes, sizes, memories } = await drain(r!.body);
    expect(bytes.equals(content)).toBe(true);
    // Never a join of several reads into a new buffer, nor a copy of the head's read.
    expect([...sizes]).toEqual([RAW_READ_BYTES]);
    // 3 MiB in 512 KiB reads: at least 7 reads, from a handful of buffers used again and again.
    expect(memories.size).toBeLessThanOrEqual(5);
  });

  it('keeps them so through the payload source (chunks are not joined on their way to the apply)', async () => {
    const transport = await GotTransport.create({ env: {} });
    try {
      const source = createHttpPayloadSource({ transport, urls: [`${base}/file`], sizeBytes: content.length });
      const { bytes, sizes } = await drain(await source.open([{ start: 0 }], new AbortController().signal));
      expect(bytes.equals(content)).toBe(true);
      expect([...sizes]).toEqual([RAW_READ_BYTES]);
    } finally {
      transport.close();
    }
  });
});

describe('GotTransport.get over plain HTTP', () => {
  it('follows a redirect and lets got fetch a chunked body', async () => {
    const transport = await GotTransport.create({ env: {} });
    try {
      const moved = await transport.get(`${base}/moved`, {});
      expect(moved.statusCode).toBe(200);
      expect((await readAll(moved.body)).equals(content)).toBe(true);
      const chunked = await transport.get(`${base}/chunked`, {});
      expect(chunked.statusCode).toBe(200);
      expect((await readAll(chunked.body)).equals(content.subarray(0, 5000))).toBe(true);
    } finally {
      transport.close();
    }
  });
});
