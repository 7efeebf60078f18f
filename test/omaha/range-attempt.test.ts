// One Range attempt, answer by answer: which statuses and headers are accepted, how a 200 is
// trimmed, and whether each failure is retryable on the same URL (a stub transport per case).

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HttpStreamResponse, HttpTransport } from '../../src/omaha/http-transport.ts';
import { LowSpeedGuard } from '../../src/omaha/low-speed-guard.ts';
import { AttemptError, fetchRange, type AttemptOptions } from '../../src/omaha/range-attempt.ts';

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
    from,
    end,
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
  for await (const chunk of fetchRange(o)) text += chunk.toString();
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

describe('fetchRange', () => {
  it('asks for the range without compression and yields a 206 body', async () => {
    const t = answering(206, { 'content-range': 'bytes 3-6/26' }, [file.subarray(3, 7)]);
    expect(await collect(options(t, 3, 7))).toBe('defg');
    expect(t.seen[0]).toEqual({ range: 'bytes=3-6', 'accept-encoding': 'identity' });
  });

  it('trims a body longer than asked', async () => {
    expect(await collect(options(answering(206, { 'content-range': 'bytes 3-25/26' }, [file.subarray(3)]), 3, 5))).toBe('de');
  });

  it('skips the prefix of a 200 answer and counts it as discarded', async () => {
    const o = options(answering(200, { 'content-length': '26' }, [file.subarray(0, 5), file.subarray(5)]), 7, 10);
    expect(await collect(o)).toBe('hij');
    expect(o.discarded).toBe(7);
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

  it('fails a 200 to a Range request when told to', async () => {
    const e = await attemptError(options(answering(200, {}, [file]), 5, 6, { onRangeIgnored: 'fail' }));
    expect(e.message).toContain('ignored the Range request for bytes 5-');
    expect(e.retryable).toBe(false);
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
