// Range arithmetic: Range and Content-Range headers, what a server sends for a Range, and the
// normalization of the apply's ranges.

import { describe, expect, it } from 'vitest';
import {
  MAX_RANGE_HEADER_BYTES,
  MAX_RANGES_PER_REQUEST,
  normalizeRanges,
  parseContentRange,
  parseUnsatisfiedRange,
  RangeQueue,
  rangeHeader,
  resolveRangeRequest,
  WantedBytes,
} from '../../src/omaha/byte-range.ts';

describe('rangeHeader / parseContentRange', () => {
  it('writes inclusive last bytes, several ranges comma-separated', () => {
    expect(rangeHeader([{ start: 100, end: 200 }])).toBe('bytes=100-199');
    expect(
      rangeHeader([
        { start: 0, end: 1 },
        { start: 5, end: 10 },
      ]),
    ).toBe('bytes=0-0,5-9');
  });

  it('parses Content-Range with a total, with "*", and refuses nonsense', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, endInclusive: 199, totalBytes: 1000 });
    expect(parseContentRange('bytes 0-0/*')).toEqual({ start: 0, endInclusive: 0 });
    expect(parseContentRange('bytes 9-3/10')).toBeUndefined();
    expect(parseContentRange('items 0-1/2')).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });

  it('reads the total of a 416 answer', () => {
    expect(parseUnsatisfiedRange('bytes */1234')).toBe(1234);
    expect(parseUnsatisfiedRange('bytes 0-1/2')).toBeUndefined();
  });
});

describe('resolveRangeRequest', () => {
  const size = 1000;
  const cases: Array<[string | undefined, ReturnType<typeof resolveRangeRequest>]> = [
    [undefined, { kind: 'none' }],
    ['bytes=0-99', { kind: 'range', start: 0, endInclusive: 99 }],
    ['bytes=500-', { kind: 'range', start: 500, endInclusive: 999 }],
    ['bytes=900-5000', { kind: 'range', start: 900, endInclusive: 999 }],
    ['bytes=-100', { kind: 'range', start: 900, endInclusive: 999 }],
    ['bytes=-5000', { kind: 'range', start: 0, endInclusive: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-2', { kind: 'none' }],
    [
      'bytes=0-1,5-6',
      {
        kind: 'multi',
        ranges: [
          { start: 0, endInclusive: 1 },
          { start: 5, endInclusive: 6 },
        ],
      },
    ],
    [
      'bytes=900-, 0-9',
      {
        kind: 'multi',
        ranges: [
          { start: 900, endInclusive: 999 },
          { start: 0, endInclusive: 9 },
        ],
      },
    ],
    ['bytes=0-9,2000-', { kind: 'range', start: 0, endInclusive: 9 }],
    ['bytes=2000-,3000-', { kind: 'unsatisfiable' }],
    ['bytes=0-9,x', { kind: 'none' }],
    ['bytes=0-999,0-999', { kind: 'none' }],
    ['lines=1-2', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
  ];
  for (const [header, expected] of cases) it(`${String(header)} -> ${expected.kind}`, () => expect(resolveRangeRequest(header, size)).toEqual(expected));
});

describe('normalizeRanges', () => {
  it('fills in the end and refuses ranges outside the payload', () => {
    expect(normalizeRanges([{ start: 0, end: 10 }, { start: 50 }], 100)).toEqual([
      { start: 0, end: 10 },
      { start: 50, end: 100 },
    ]);
    expect(() => normalizeRanges([{ start: 0, end: 101 }], 100)).toThrow(/Invalid byte range \[0, 101\)/);
    expect(() => normalizeRanges([{ start: -1 }], 100)).toThrow(RangeError);
    expect(() => normalizeRanges([{ start: 20, end: 10 }], 100)).toThrow(RangeError);
  });
});

describe('RangeQueue', () => {
  it('merges adjacent ranges, drops empty ones and resumes inside a range', () => {
    const q = new RangeQueue([
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 30, end: 30 },
      { start: 40, end: 50 },
    ]);
    expect(q.next(200)).toEqual([
      { start: 0, end: 20 },
      { start: 40, end: 50 },
    ]);
    q.advance(15);
    expect(q.next(200)).toEqual([
      { start: 15, end: 20 },
      { start: 40, end: 50 },
    ]);
    expect(q.next(1)).toEqual([{ start: 15, end: 20 }]);
    q.advance(5 + 9);
    expect(q.next(200)).toEqual([{ start: 49, end: 50 }]);
    q.advance(1);
    expect(q.done).toBe(true);
    expect(q.next(200)).toEqual([]);
  });

  it('cuts a request at the range count, at the header budget and where ranges go backwards', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ start: i * 100, end: i * 100 + 10 }));
    expect(new RangeQueue(many).next(MAX_RANGES_PER_REQUEST)).toHaveLength(MAX_RANGES_PER_REQUEST);
    const far = Array.from({ length: 1000 }, (_, i) => ({ start: 1e12 + i * 100, end: 1e12 + i * 100 + 10 }));
    const batch = new RangeQueue(far).next(1000);
    expect(batch.length).toBeGreaterThan(100);
    expect(rangeHeader(batch).length).toBeLessThanOrEqual(MAX_RANGE_HEADER_BYTES);
    expect(
      new RangeQueue([
        { start: 50, end: 60 },
        { start: 0, end: 10 },
      ]).next(200),
    ).toEqual([{ start: 50, end: 60 }]);
  });

  it('spans ranges whose gaps are small enough for one single range', () => {
    const q = new RangeQueue([
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: 45, end: 50 },
      { start: 100, end: 110 },
    ]);
    expect(q.next(4096, 15)).toEqual([
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: 45, end: 50 },
    ]);
    expect(q.next(2, 15)).toHaveLength(2);
  });
});

describe('WantedBytes', () => {
  it('takes the asked bytes out of a coalesced part and counts the rest as discarded', () => {
    const w = new WantedBytes([
      { start: 2, end: 4 },
      { start: 6, end: 8 },
    ]);
    const data = Buffer.from('abcdefghij');
    expect(w.take(0, data.subarray(0, 5))).toEqual({ pieces: [Buffer.from('cd')], discarded: 3 });
    expect(w.next).toBe(6);
    expect(w.take(5, data.subarray(5))).toEqual({ pieces: [Buffer.from('gh')], discarded: 3 });
    expect(w.done).toBe(true);
  });
});
