// One Range attempt, answer by answer: which statuses and headers are accepted, how a 200 is
// trimmed, and whether each failure is retryable on the same URL (a stub transport per case).

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HttpStreamResponse, HttpTransport } from '../../src/omaha/http-transport.ts';
import { LowSpeedGuard } from '../../src/omaha/low-speed-guard.ts';
import { AttemptError, fetchRanges, MultiRangeRefused, type AttemptOptions } from '../../src/omaha/range-attempt.ts';
import { failure } from '../helpers/errors.ts';

const file = Buffer.from('abcdefghijklmnopqrstuvwxyz');

/** A transport that answers every GET with this status, headers and body chunks. */
function answering(statusCode: number, headers: Record<string, string>, chunks: Buffer[]): HttpTransport & { seen: Array<Record<string, string>> } {
  const seen: Array<Record<string, string>> = [];
  return {
    seen,
    post: () => Promise.reject(new Error('not used')),
    get: async (url, options): Promise<HttpStreamResponse> => {
      seen.push(options.headers ?? {});
      return { statusCode, headers, url, body: Readable.from(chunks) };
    },
  };
}

function options(transport: HttpTransport, from: number, end: number, extra: Partial<AttemptOptions> = {}): AttemptOptions & { discarded: number } {
  const o = {
    transport,
    url: 'http://127.0.0.1:1/p',
    ranges: [{ start: from, end }],
    sizeBytes: file.length,
    signal: new AbortController().signal,
    guard: new LowSpeedGuard(10, 60_000),
    responseTimeoutMs: 60_000,
    onRangeIgnored: 'skip' as const,
    onReceived: () => undefined,
    discarded: 0,
    onDiscarded: (n: number) => void (o.discarded += n),
    ...extra,
  };
  return o;
}

async function collect(o: AttemptOptions): Promise<string> {
  let text = '';
  for await (const chunk of fetchRanges(o)) text += chunk.toString();
  return text;
}

async function attemptError(o: AttemptOptions): Promise<AttemptError> {
  try {
    await collect(o);
  } catch (e) {
    if (e instanceof AttemptError) return e;
    throw e;
  }
  throw new Error('expected an AttemptError');
}

describe('fetchRanges', () => {
  it('asks for the range without compression and yields a 206 body', async () => {
    const t = answering(206, { 'content-range': 'bytes 3-6/26' }, [file.subarray(3, 7)]);
    expect(await collect(options(t, 3, 7))).toBe('defg');
    expect(t.seen[0]).toEqual({ range: 'bytes=3-6', 'accept-encoding': 'identity' });
  });

  it('trims a body longer than asked', async () => {
    expect(await collect(options(answering(206, { 'content-range': 'bytes 3-25/26' }, [file.subarray(3)]), 3, 5))).toBe('de');
  });

  it('skips the prefix of a 200 answer and counts what it received but did not deliver as discarded', async () => {
    const o = options(answering(200, { 'content-length': '26' }, [file.subarray(0, 5), file.subarray(5)]), 7, 10);
    expect(await collect(o)).toBe('hij');
    expect(o.discarded).toBe(26 - 3);
  });

  it('returns early (no error) when the body ends before the range does: the caller resumes', async () => {
    expect(await collect(options(answering(206, { 'content-range': 'bytes 0-25/26' }, [file.subarray(0, 4)]), 0, 26))).toBe('abcd');
  });

  const failures: Array<[string, number, Record<string, string>, string, boolean, RegExp]> = [
    ['206 without Content-Range', 206, {}, 'ERR_DOWNLOAD_TRANSFER', false, /without a valid Content-Range/],
    ['206 for another file size', 206, { 'content-range': 'bytes 2-5/99' }, 'ERR_PAYLOAD_SIZE_MISMATCH', false, /99-byte file/],
    ['206 starting elsewhere', 206, { 'content-range': 'bytes 0-5/26' }, 'ERR_DOWNLOAD_TRANSFER', false, /answered bytes 0-5 to a request for bytes 2-5/],
    ['200 of another length', 200, { 'content-length': '30' }, 'ERR_PAYLOAD_SIZE_MISMATCH', false, /30-byte file/],
    ['416 for another size', 416, { 'content-range': 'bytes */10' }, 'ERR_PAYLOAD_SIZE_MISMATCH', false, /10-byte file/],
    ['416', 416, { 'content-range': 'bytes */26' }, 'ERR_DOWNLOAD_TRANSFER', false, /HTTP 416/],
    ['404', 404, {}, 'ERR_DOWNLOAD_TRANSFER', false, /HTTP 404/],
    ['302 not followed', 302, {}, 'ERR_DOWNLOAD_TRANSFER', false, /HTTP 302/],
    ['503', 503, {}, 'ERR_DOWNLOAD_TRANSFER', true, /HTTP 503/],
    ['429', 429, {}, 'ERR_DOWNLOAD_TRANSFER', true, /HTTP 429/],
  ];
  for (const [name, status, headers, code, retryable, message] of failures) {
    it(`${name}: ${code}, ${retryable ? 'retry the URL' : 'next URL'}`, async () => {
      const e = await attemptError(options(answering(status, headers, []), 2, 6));
      expect({ code: e.code, retryable: e.retryable }).toEqual({ code, retryable });
      expect(e.message).toMatch(message);
    });
  }

  it('fails a 200 to a Range request with ERR_DOWNLOAD_RANGE_IGNORED when told to, before reading the body', async () => {
    let read = false;
    const t: HttpTransport = {
      post: () => Promise.reject(new Error('not used')),
      get: async (url) => ({
        statusCode: 200,
        headers: {},
        url,
        body: Readable.from(
          (async function* () {
            read = true;
            yield file;
          })(),
        ),
      }),
    };
    const e = await failure(collect(options(t, 5, 6, { onRangeIgnored: 'fail' })));
    expect(e.code).toBe('ERR_DOWNLOAD_RANGE_IGNORED');
    expect(e.message).toContain('ignored the Range request for bytes 5-5');
    expect(read).toBe(false);
  });

  it('takes a 200 to a request for the whole file in fail mode: that is no Range request', async () => {
    expect(await collect(options(answering(200, {}, [file]), 0, 26, { onRangeIgnored: 'fail' }))).toBe(file.toString());
  });

  const multi = [
    { start: 1, end: 3 },
    { start: 10, end: 12 },
    { start: 20, end: 21 },
  ];
  const part = (start: number, endInclusive: number) =>
    `\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${start}-${endInclusive}/26\r\n\r\n${file.toString('latin1', start, endInclusive + 1)}`;
  const multipart = (body: string) => answering(206, { 'content-type': 'multipart/byteranges; boundary=B' }, [Buffer.from(body, 'latin1')]);

  it('asks several ranges in one header and takes the multipart answer', async () => {
    const t = multipart(`${part(1, 2)}${part(10, 11)}${part(20, 20)}\r\n--B--\r\n`);
    expect(await collect(options(t, 0, 0, { ranges: multi }))).toBe('bcklu');
    expect(t.seen[0]?.range).toBe('bytes=1-2,10-11,20-20');
  });

  it('takes the asked ranges out of one coalesced 206 or a coalesced part', async () => {
    const single = answering(206, { 'content-range': 'bytes 1-20/26' }, [file.subarray(1, 21)]);
    const o = options(single, 0, 0, { ranges: multi });
    expect(await collect(o)).toBe('bcklu');
    expect(o.discarded).toBe(20 - 5);
    expect(await collect(options(multipart(`${part(1, 11)}${part(20, 20)}\r\n--B--\r\n`), 0, 0, { ranges: multi }))).toBe('bcklu');
  });

  const refused: Array<[string, HttpTransport, RegExp]> = [
    ['a 200', answering(200, { 'content-length': '26' }, [file]), /answered 200/],
    ['a 416', answering(416, {}, []), /416/],
    ['a 400 (header too long for nginx)', answering(400, {}, []), /HTTP 400/],
    ['a 431', answering(431, {}, []), /HTTP 431/],
    ['parts out of order', multipart(`${part(10, 11)}${part(1, 2)}${part(20, 20)}\r\n--B--\r\n`), /answered bytes 10-11 where bytes 1- were next/],
    ['a part not asked', multipart(`${part(1, 2)}${part(5, 5)}\r\n--B--\r\n`), /answered bytes 5-5 where bytes 10- were next/],
    ['fewer parts than asked', multipart(`${part(1, 2)}\r\n--B--\r\n`), /fewer ranges than asked \(up to byte 10\)/],
    ['a coalesced 206 covering only the first range', answering(206, { 'content-range': 'bytes 1-2/26' }, [file.subarray(1, 3)]), /fewer ranges/],
    ['a part without Content-Range', multipart('\r\n--B\r\nContent-Type: x\r\n\r\nbc'), /broken multipart.*without a valid Content-Range/],
  ];
  for (const [name, transport, message] of refused) {
    it(`stops multi-range on ${name} (MultiRangeRefused)`, async () => {
      let error: unknown;
      try {
        await collect(options(transport, 0, 0, { ranges: multi }));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MultiRangeRefused);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('asks one range spanning the wanted ones when told to, and takes them out of the 206 or the 200', async () => {
    const t = answering(206, { 'content-range': 'bytes 1-20/26' }, [file.subarray(1, 21)]);
    expect(await collect(options(t, 0, 0, { ranges: multi, span: true }))).toBe('bcklu');
    expect(t.seen[0]?.range).toBe('bytes=1-20');
    expect(await collect(options(answering(200, {}, [file]), 0, 0, { ranges: multi, span: true }))).toBe('bcklu');
    const e = await failure(collect(options(answering(200, {}, [file]), 0, 0, { ranges: multi, span: true, onRangeIgnored: 'fail' })));
    expect(e.message).toContain('ignored the Range request for bytes 1-20');
  });

  it('returns a prefix (the caller resumes) when a multipart body ends before its closing boundary', async () => {
    expect(await collect(options(multipart(`${part(1, 2)}${part(10, 11).slice(0, -1)}`), 0, 0, { ranges: multi }))).toBe('bck');
  });

  it('turns a body error into a retryable transfer error naming the bytes received', async () => {
    const broken: HttpTransport = {
      post: () => Promise.reject(new Error('not used')),
      get: async (url) => ({
        statusCode: 206,
        headers: { 'content-range': 'bytes 0-25/26' },
        url,
        body: Readable.from(
          (async function* () {
            yield file.subarray(0, 3);
            throw new Error('socket hang up');
          })(),
        ),
      }),
    };
    const e = await attemptError(options(broken, 0, 26));
    expect(e.retryable).toBe(true);
    expect(e.message).toBe('Transfer from "http://127.0.0.1:1/p" failed after 3 bytes: socket hang up');
  });
});
