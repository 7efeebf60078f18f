// Many ranges in few requests (issue 18's delta fetch) against real servers: nginx (multipart/
// byteranges from its range filter), `update-engine serve`'s server, and Node servers that ignore
// Range, coalesce the ranges into one 206, reorder the parts or drop the connection mid-batch. The
// bytes must be the file's ranges exactly; the request count small; 'fail' must not read a 200 body.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type Nginx } from '../helpers/nginx.ts';
import type { Range } from '../../src/omaha/byte-range.ts';
import { startDevServer, type DevServer } from '../../src/omaha/dev-server.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { createHttpPayloadSource, type HttpPayloadSourceOptions } from '../../src/omaha/http-payload-source.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { ByteReader } from '../../src/payload/byte-reader.ts';
import { failure } from '../helpers/errors.ts';
import { startFaultServer, type FaultServer } from '../helpers/fault-server.ts';
import { seededRandom } from '../helpers/kill-points.ts';
import { requireTool } from '../helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'multi-range-'));
const random = seededRandom(18);
const content = Buffer.from(Array.from({ length: 4 * 1024 * 1024 + 77 }, () => Math.floor(random() * 256)));
const never = new AbortController().signal;

/** `count` sorted, non-overlapping, non-adjacent ranges of 1 to 6000 bytes spread over the file. */
function spread(count: number): Range[] {
  const ranges: Range[] = [];
  const stride = Math.floor(content.length / count);
  for (let i = 0; i < count; i++) {
    const start = i * stride + Math.floor(random() * (stride / 2));
    ranges.push({ start, end: start + 1 + Math.floor(random() * Math.min(6000, stride / 2 - 1)) });
  }
  return ranges;
}

function expected(ranges: Range[]): Buffer {
  return Buffer.concat(ranges.map((r) => content.subarray(r.start, r.end)));
}

/**
 * Reads as the apply does: through a ByteReader, which gives each read buffer back to the transport
 * once it used up a chunk (src/io/recycled-memory.ts), in small slow reads, so that the socket reads
 * on into recycled buffers meanwhile. A chunk the range parser cut into several pieces (the parts of
 * a multipart answer that arrived in one read) must not be given back after its first piece.
 */
async function readSlowly(stream: Readable, bytes: number): Promise<Buffer> {
  const reader = new ByteReader(stream);
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += 4096) {
    const n = Math.min(4096, bytes - at);
    await reader.readInto(out.subarray(at), n, 'ranges');
    await new Promise((r) => setImmediate(r));
  }
  expect(await reader.atEnd()).toBe(true);
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A logger that keeps its warnings' messages. */
function warnings(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = { warn: (_o: unknown, message: string) => void messages.push(message) } as unknown as Logger;
  return { logger, messages };
}

let transport: GotTransport;
const source = (url: string, extra: Partial<HttpPayloadSourceOptions> = {}) =>
  createHttpPayloadSource({ transport, urls: [url], sizeBytes: content.length, retryDelayMs: 1, lowSpeedTimeMs: 2000, ...extra });

beforeAll(async () => {
  mkdirSync(join(dir, 'payloads'));
  writeFileSync(join(dir, 'payloads', 'update.payload'), content);
  transport = await GotTransport.create({ env: {} });
});
afterAll(() => {
  transport.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nginx (multipart/byteranges from its range filter)', () => {
  let nginx: Nginx;
  beforeAll(async () => {
    requireTool('nginx');
    // The Omaha origin is never asked: only the payload location is used.
    nginx = await startNginx(join(dir, 'nginx'), dir, join(dir, 'payloads'), 'http://127.0.0.1:9');
  });
  afterAll(async () => nginx?.stop());

  it('delivers 1000 ranges byte for byte in 5 requests', async () => {
    const ranges = spread(1000);
    const s = source(`${nginx.origin}/payloads/0/update.payload`);
    expect((await readAll(await s.open(ranges, never, { rangeIgnored: 'fail' }))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 5, failures: 0, bytesDiscarded: 0, bytesDelivered: expected(ranges).length });
  });

  it('delivers ranges byte for byte to a slow reader that gives read buffers back', async () => {
    const ranges = spread(400);
    const s = source(`${nginx.origin}/payloads/0/update.payload`);
    const want = expected(ranges);
    expect((await readSlowly(await s.open(ranges, never, { rangeIgnored: 'fail' }), want.length)).equals(want)).toBe(true);
  });

  it('delivers a 32 MiB file whole to a reader that gives read buffers back, in mixed slow reads', async () => {
    // The full apply's pattern: small copies (the header) and large reads into a few reused buffers.
    const big = Buffer.alloc(32 * 1024 * 1024 + 13);
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE(i, i);
    writeFileSync(join(dir, 'payloads', 'big.payload'), big);
    const s = createHttpPayloadSource({ transport, urls: [`${nginx.origin}/payloads/0/big.payload`], sizeBytes: big.length });
    const reader = new ByteReader(await s.open([{ start: 0 }], never));
    const pool = Array.from({ length: 8 }, () => Buffer.alloc(1024 * 1024));
    for (let at = 0, k = 0; at < big.length; k++) {
      const small = random() < 0.3;
      const n = Math.min(big.length - at, small ? 1 + Math.floor(random() * 70_000) : 1024 * 1024);
      let got: Buffer;
      if (small) got = await reader.read(n, 'bytes');
      else {
        got = (pool[k % pool.length] as Buffer).subarray(0, n);
        await reader.readInto(got, n, 'bytes');
      }
      if (!got.equals(big.subarray(at, at + n))) expect.fail(`bytes [${at}, ${at + n}) differ`);
      at += n;
      await new Promise((r) => (random() < 0.2 ? setTimeout(r, 2) : setImmediate(r)));
    }
    expect(await reader.atEnd()).toBe(true);
  });

  it("delivers a resumed apply's two ranges (the header, then from the resume point) to a reader that gives read buffers back", async () => {
    const ranges = [
      { start: 0, end: 96 * 1024 },
      { start: 1024 * 1024 + 4321, end: content.length },
    ];
    const s = source(`${nginx.origin}/payloads/0/update.payload`);
    const want = expected(ranges);
    expect((await readSlowly(await s.open(ranges, never), want.length)).equals(want)).toBe(true);
    expect(s.stats().requests).toBe(1);
  });

  it('delivers the header and the rest of the file, and the whole file', async () => {
    const ranges = [{ start: 0, end: 96 * 1024 }, ...spread(10).filter((r) => r.start > 96 * 1024), { start: content.length - 5 }];
    const s = source(`${nginx.origin}/payloads/0/update.payload`);
    expect((await readAll(await s.open(ranges, never))).equals(expected(ranges as Range[]))).toBe(true);
    expect((await readAll(await s.open([{ start: 0 }], never, { rangeIgnored: 'fail' }))).equals(content)).toBe(true);
    expect(s.stats().requests).toBe(2);
  });
});

describe('update-engine serve', () => {
  let server: DevServer;
  let ignoring: DevServer;
  beforeAll(async () => {
    const payload = {
      index: 0,
      path: join(dir, 'payloads', 'update.payload'),
      fileName: 'update.payload',
      version: '2.0.0',
      sizeBytes: content.length,
      sha256Base64: '',
      sha1Base64: '',
    };
    server = await startDevServer({ payloads: [payload] });
    ignoring = await startDevServer({ payloads: [payload], ignoreRange: true });
  });
  afterAll(async () => {
    await server?.close();
    await ignoring?.close();
  });

  it('delivers 1000 ranges byte for byte in 5 requests', async () => {
    const ranges = spread(1000);
    const s = source(`${server.url}/payloads/0/update.payload`);
    expect((await readAll(await s.open(ranges, never, { rangeIgnored: 'fail' }))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 5, failures: 0, bytesDiscarded: 0 });
  });

  it("ignoring Range: 'fail' stops with ERR_DOWNLOAD_RANGE_IGNORED without reading a body", async () => {
    const s = source(`${ignoring.url}/payloads/0/update.payload`);
    const e = await failure(readAll(await s.open(spread(50), never, { rangeIgnored: 'fail' })));
    expect(e.code).toBe('ERR_DOWNLOAD_RANGE_IGNORED');
    // The multi-range request's 200 sends it to one range per request, whose 200 is the verdict.
    expect(s.stats()).toMatchObject({ requests: 2, failures: 0, bytesReceived: 0, bytesDelivered: 0 });
  });

  it("ignoring Range: 'skip' still delivers the ranges from the whole-file answers", async () => {
    const ranges = spread(3);
    const s = source(`${ignoring.url}/payloads/0/update.payload`);
    expect((await readAll(await s.open(ranges, never))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 4, failures: 0 });
  });
});

describe('Node servers that answer several ranges their own way', () => {
  let server: FaultServer;
  const url = () => `${server.url}/update.payload`;
  beforeAll(async () => {
    server = await startFaultServer({ content });
  });
  afterAll(async () => server.close());

  it('takes the ranges out of one coalesced 206 per request', async () => {
    server.setFaults(Array.from({ length: 5 }, () => ({ kind: 'coalesce' as const })));
    const ranges = spread(1000);
    const s = source(url());
    expect((await readAll(await s.open(ranges, never, { rangeIgnored: 'fail' }))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 5, failures: 0, bytesDelivered: expected(ranges).length });
    expect(s.stats().bytesDiscarded).toBeGreaterThan(0);
  });

  it('resumes from the last delivered byte when the connection drops mid-batch', async () => {
    server.setFaults([{ kind: 'reset-after', bytes: 100_000 }, { kind: 'ok' }, { kind: 'reset-after', bytes: 2000 }]);
    const ranges = spread(1000);
    const before = server.requests.length;
    const s = source(url());
    expect((await readAll(await s.open(ranges, never))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ failures: 2 });
    expect(s.stats().requests).toBeLessThanOrEqual(8);
    // The request after the first reset asks several ranges again, from inside the first batch.
    const resumed = server.requests[before + 1]?.headers.range as string;
    const first = Number(/^bytes=(\d+)-/.exec(resumed)?.[1]);
    expect(first).toBeGreaterThan(ranges[0]?.start as number);
    expect(first).toBeLessThan(ranges[199]?.end as number);
    expect(resumed).toContain(',');
  });

  it('falls back to one range per request after parts out of order, and says so once', async () => {
    server.setFaults([{ kind: 'reverse-parts' }]);
    const ranges = spread(20);
    const { logger, messages } = warnings();
    const s = source(url(), { logger });
    expect((await readAll(await s.open(ranges, never))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 21, failures: 0 });
    expect(messages.filter((m) => m.includes('one range per request'))).toHaveLength(1);
    expect(server.requests.at(-1)?.headers.range).not.toContain(',');
  });

  it("S3's way (200 to several ranges, 206 to one): one range per request, in 'fail' mode too, no body read in vain", async () => {
    server.setFaults([{ kind: 'ignore-range' }]);
    const ranges = spread(20);
    const s = source(url());
    expect((await readAll(await s.open(ranges, never, { rangeIgnored: 'fail' }))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 21, failures: 0, bytesDiscarded: 0, bytesReceived: expected(ranges).length });
  });

  it('after the fallback, one range spans near asked ranges (gaps up to SPAN_GAP_BYTES fetched and dropped)', async () => {
    server.setFaults([{ kind: 'ignore-range' }]);
    const ranges = spread(1000); // gaps of a few KiB
    const before = server.requests.length;
    const s = source(url());
    expect((await readAll(await s.open(ranges, never, { rangeIgnored: 'fail' }))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ requests: 2, failures: 0 });
    expect(s.stats().bytesDiscarded).toBe((ranges.at(-1)?.end as number) - (ranges[0]?.start as number) - expected(ranges).length);
    expect(server.requests[before + 1]?.headers.range).toBe(`bytes=${ranges[0]?.start}-${(ranges.at(-1)?.end as number) - 1}`);
  });

  it('paces several batches to DOWNLOAD_BPS', async () => {
    server.setFaults([]);
    let nowMs = 0;
    const clock: Clock = { now: () => nowMs, monotonicMs: () => nowMs, sleep: async (ms) => void (nowMs += ms) };
    const ranges = spread(600);
    const bytes = expected(ranges).length;
    const s = source(url(), { clock, maxBytesPerSecond: 100_000 });
    await readAll(await s.open(ranges, never));
    expect(s.stats().requests).toBe(3);
    expect(nowMs).toBeGreaterThanOrEqual((bytes / 100_000) * 1000 - 50); // the bucket's small burst is free
    expect(nowMs).toBeLessThanOrEqual((bytes / 100_000) * 1000 + 1);
  });

  it('keeps DOWNLOAD_TIMEOUT across batches', async () => {
    server.setFaults([{ kind: 'ok' }, { kind: 'stall-after', bytes: 100 }]);
    const s = source(url(), { deadlineMs: 800, lowSpeedTimeMs: 60_000 });
    const e = await failure(readAll(await s.open(spread(400), never)));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(e.message).toContain('DOWNLOAD_TIMEOUT');
    expect(s.stats().requests).toBe(2);
    server.setFaults([]);
  });
});
