// The HTTP OpenPayload against the fault-injecting server: every fault ends in the exact bytes asked
// for (a transparent resume) or a precise error; URL rotation; abort; the rate limit.

import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateEngineError, type ErrorCode } from '../../src/errors.ts';
import type { ByteRange } from '../../src/omaha/byte-range.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { createHttpPayloadSource, type HttpPayloadSourceOptions } from '../../src/omaha/http-payload-source.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { startFaultServer, type Fault, type FaultServer } from '../helpers/fault-server.ts';
import { failure } from '../helpers/errors.ts';

const content = randomBytes(3 * 1024 * 1024 + 123);
const never = new AbortController().signal;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function expected(ranges: ByteRange[]): Buffer {
  return Buffer.concat(ranges.map((r) => content.subarray(r.start, r.end)));
}

describe('createHttpPayloadSource', () => {
  let server: FaultServer;
  let transport: GotTransport;
  let deadUrl: string;
  const source = (extra: Partial<HttpPayloadSourceOptions> = {}) =>
    createHttpPayloadSource({ transport, urls: [`${server.url}/update.payload`], sizeBytes: content.length, retryDelayMs: 1, lowSpeedTimeMs: 400, ...extra });

  beforeAll(async () => {
    server = await startFaultServer({ content });
    transport = await GotTransport.create({ env: {} });
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/update.payload`;
    await new Promise<void>((r) => closed.close(() => r()));
  });
  afterAll(async () => {
    transport.close();
    await server.close();
  });

  it('fetches the whole payload with one request', async () => {
    const s = source();
    server.setFaults([]);
    expect((await readAll(await s.open([{ start: 0 }], never))).equals(content)).toBe(true);
    expect(s.stats()).toMatchObject({ bytesDelivered: content.length, bytesReceived: content.length, requests: 1, failures: 0 });
    expect(server.requests.at(-1)?.headers.range).toBe(`bytes=0-${content.length - 1}`);
  });

  it('fetches the header, then the rest from a checkpoint, concatenated', async () => {
    const ranges = [{ start: 0, end: 4096 }, { start: 2_000_000 }];
    expect((await readAll(await source().open(ranges, never))).equals(expected(ranges))).toBe(true);
  });

  // [name, faults, failed attempts expected]
  const resumed: Array<[string, Fault[], number]> = [
    ['a reset mid-body', [{ kind: 'reset-after', bytes: 1_000_000 }], 1],
    [
      'two resets in a row',
      [
        { kind: 'reset-after', bytes: 10 },
        { kind: 'reset-after', bytes: 100_000 },
      ],
      2,
    ],
    ['a stall (low-speed abort)', [{ kind: 'stall-after', bytes: 500_000 }], 1],
    [
      'a 503, then a 500',
      [
        { kind: 'status', status: 503 },
        { kind: 'status', status: 500 },
      ],
      2,
    ],
    ['a Content-Length smaller than the body', [{ kind: 'wrong-length', delta: -700_000 }], 1],
    ['headers that never come', [{ kind: 'no-headers' }], 1],
    // The announced extra bytes are never needed: the asked range is complete before the close.
    ['a Content-Length larger than the body', [{ kind: 'wrong-length', delta: 5000 }], 0],
  ];
  for (const [name, faults, failures] of resumed) {
    it(`resumes after ${name} and delivers exactly the asked bytes`, async () => {
      // Both ranges go in one multipart/byteranges request; the faults hit it, then its resumptions.
      const ranges = [{ start: 0, end: 1000 }, { start: 1_500_000 }];
      server.setFaults(faults);
      const s = source();
      expect((await readAll(await s.open(ranges, never))).equals(expected(ranges))).toBe(true);
      expect(s.stats()).toMatchObject({ failures, bytesDelivered: expected(ranges).length, requests: 1 + failures });
    });
  }

  it('skips the unwanted prefix of a 200 answer to a Range request', async () => {
    server.setFaults([{ kind: 'ignore-range' }]);
    const s = source();
    const ranges = [{ start: 2_000_000 }];
    expect((await readAll(await s.open(ranges, never))).equals(expected(ranges))).toBe(true);
    expect(s.stats()).toMatchObject({ bytesDiscarded: 2_000_000, failures: 0 });
  });

  it('fails at once with ERR_DOWNLOAD_RANGE_IGNORED on a 200 answer to a Range request when told to', async () => {
    server.setFaults([{ kind: 'ignore-range' }]);
    const s = source();
    const e = await failure(readAll(await s.open([{ start: 10 }], never, { rangeIgnored: 'fail' })));
    expect(e.code).toBe('ERR_DOWNLOAD_RANGE_IGNORED');
    expect(e.message).toContain(`ignored the Range request for bytes 10-${content.length - 1}`);
    expect(s.stats()).toMatchObject({ requests: 1, failures: 0, bytesReceived: 0 });
  });

  const fatal: Array<[string, Fault, ErrorCode, RegExp]> = [
    ['a 404', { kind: 'status', status: 404 }, 'ERR_DOWNLOAD_TRANSFER', /answered HTTP 404/],
    ['a redirect loop', { kind: 'redirect-loop' }, 'ERR_DOWNLOAD_TRANSFER', /redirect/i],
    ['a Content-Range that starts elsewhere', { kind: 'wrong-range-start', shift: 7 }, 'ERR_DOWNLOAD_TRANSFER', /answered bytes 1007-/],
  ];
  for (const [name, fault, code, message] of fatal) {
    it(`gives up a URL on ${name} with ${code}`, async () => {
      server.setFaults(Array.from({ length: 15 }, () => fault));
      const s = source();
      const e = await failure(readAll(await s.open([{ start: 1000 }], never)));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(s.stats().bytesDelivered).toBe(0);
      server.setFaults([]);
    });
  }

  it('refuses a server whose file has another size (ERR_PAYLOAD_SIZE_MISMATCH)', async () => {
    server.setFaults([]);
    const e = await failure(readAll(await source({ sizeBytes: content.length + 1 }).open([{ start: 0 }], never)));
    expect(e.code).toBe('ERR_PAYLOAD_SIZE_MISMATCH');
    expect(e.message).toContain(`${content.length}-byte file`);
  });

  it('gives up after MaxFailureCountPerUrl failures of every URL', async () => {
    server.setFaults(Array.from({ length: 10 }, () => ({ kind: 'status' as const, status: 503 })));
    const s = source({ urls: [deadUrl, `${server.url}/update.payload`], maxFailureCountPerUrl: 3 });
    const e = await failure(readAll(await s.open([{ start: 0 }], never)));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(e.message).toMatch(/all 2 URLs failed; last error: .*HTTP 503/);
    expect(s.stats()).toMatchObject({ failures: 6, urlIndex: 2 });
    server.setFaults([]);
  });

  it('moves to the next URL after MaxFailureCountPerUrl failures and finishes there', async () => {
    server.setFaults([]);
    const s = source({ urls: [deadUrl, `${server.url}/update.payload`], maxFailureCountPerUrl: 2 });
    expect((await readAll(await s.open([{ start: 0 }], never))).equals(content)).toBe(true);
    expect(s.stats()).toMatchObject({ failures: 2, urlIndex: 1 });
  });

  it('aborts a trickle below the low-speed limit', async () => {
    server.setFaults(Array.from({ length: 5 }, () => ({ kind: 'trickle' as const, bytes: 1, intervalMs: 150 })));
    const s = source({ maxFailureCountPerUrl: 2, lowSpeedTimeMs: 300 });
    const e = await failure(readAll(await s.open([{ start: 0 }], never)));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(e.message).toContain('below 10 B/s for 0.3 s');
    server.setFaults([]);
  });

  it('stops with the abort reason when the signal fires', async () => {
    server.setFaults([{ kind: 'stall-after', bytes: 1000 }]);
    const controller = new AbortController();
    const stream = await source({ lowSpeedTimeMs: 60_000 }).open([{ start: 0 }], controller.signal);
    setTimeout(() => controller.abort(new UpdateEngineError('ERR_ABORTED', 'Stopped by SIGTERM')), 100);
    const e = await failure(readAll(stream));
    expect(e.code).toBe('ERR_ABORTED');
    server.setFaults([]);
  });

  it('does not send DOWNLOAD_USER/PASSWORD to an http:// URL', async () => {
    server.setFaults([]);
    await readAll(await source({ credentials: { username: 'u', password: 'p' } }).open([{ start: 0, end: 10 }], never));
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('refuses ranges outside the payload as a bug', async () => {
    const e = await failure(source().open([{ start: 0, end: content.length + 1 }], never));
    expect(e.code).toBe('ERR_INTERNAL');
  });

  it('paces the transfer to DOWNLOAD_BPS', async () => {
    let nowMs = 0;
    const clock: Clock = { now: () => nowMs, monotonicMs: () => nowMs, sleep: async (ms) => void (nowMs += ms) };
    const ranges = [{ start: 0, end: 1_000_000 }];
    await readAll(await source({ clock, maxBytesPerSecond: 250_000 }).open(ranges, never));
    expect(nowMs).toBeGreaterThanOrEqual(3990);
    expect(nowMs).toBeLessThanOrEqual(4000.001); // float sums of the per-chunk reservations;
  });

  it('delivers the exact bytes whatever resets hit it (seeded random offsets)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1_500_000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: content.length - 1 }),
        async (resetAfter, resume) => {
          server.setFaults(resetAfter.map((bytes) => ({ kind: 'reset-after' as const, bytes })));
          const ranges = [{ start: 0, end: 512 }, { start: resume }];
          const got = await readAll(await source().open(ranges, never));
          expect(got.equals(expected(ranges))).toBe(true);
        },
      ),
      { numRuns: 12, seed: 20240611 },
    );
    server.setFaults([]);
  });
});
