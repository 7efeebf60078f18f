// Range arithmetic: Range and Content-Range headers, what a server sends for a Range, and the
// normalization of the apply's ranges.

import { describe, expect, it } from 'vitest';
import { normalizeRanges, parseContentRange, parseUnsatisfiedRange, rangeHeader, resolveRangeRequest } from '../../src/omaha/byte-range.ts';

describe('rangeHeader / parseContentRange', () => {
  it('writes an inclusive last byte', () => expect(rangeHeader(100, 200)).toBe('bytes=100-199'));

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
    ['bytes=0-1,5-6', { kind: 'none' }],
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
