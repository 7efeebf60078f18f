// The streaming multipart/byteranges parser: nginx's framing cut at every byte, the variants RFC 2046
// allows (preamble, LF line ends, padding after the boundary, quoted boundary, extra part headers),
// and the malformed answers it refuses; the layout our servers write parses back to the same bytes.

import { describe, expect, it } from 'vitest';
import {
  ByterangesParser,
  byterangesBoundary,
  byterangesLayout,
  MAX_PART_HEADER_BYTES,
  MultipartError,
  type MultipartEvent,
} from '../../src/omaha/multipart-ranges.ts';

const file = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

/** Parses `body` pushed in pieces of `step` bytes; returns the parts with their data, and whether it closed. */
function parse(boundary: string, body: Buffer, step = body.length): { parts: Array<[string, string]>; closed: boolean } {
  const parser = new ByterangesParser(boundary);
  const events: MultipartEvent[] = [];
  for (let i = 0; i < body.length; i += step) events.push(...parser.push(body.subarray(i, i + step)));
  const parts: Array<[string, string]> = [];
  for (const e of events) {
    if (e.kind === 'part') parts.push([`${e.range.start}-${e.range.endInclusive}`, '']);
    else {
      const last = parts.at(-1) as [string, string];
      last[1] += e.data.toString('latin1');
    }
  }
  return { parts, closed: parser.closed };
}

// As nginx 1.22 writes it (ngx_http_range_filter_module: CRLF before each boundary line).
const nginx = Buffer.from(
  '\r\n--00000000000000000001\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 2-4/36\r\n\r\n234' +
    '\r\n--00000000000000000001\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 30-35/36\r\n\r\nuvwxyz' +
    '\r\n--00000000000000000001--\r\n',
  'latin1',
);

describe('byterangesBoundary', () => {
  it('reads the boundary, quoted or not, and only of multipart/byteranges', () => {
    expect(byterangesBoundary('multipart/byteranges; boundary=00000000000000000001')).toBe('00000000000000000001');
    expect(byterangesBoundary('Multipart/ByteRanges; charset=x; boundary="a b:c"')).toBe('a b:c');
    expect(byterangesBoundary('multipart/mixed; boundary=x')).toBeUndefined();
    expect(byterangesBoundary('multipart/byteranges')).toBeUndefined();
    expect(byterangesBoundary(undefined)).toBeUndefined();
  });
});

describe('ByterangesParser', () => {
  it("parses nginx's framing however the body is cut", () => {
    for (let step = 1; step <= nginx.length; step++) {
      expect(parse('00000000000000000001', nginx, step)).toEqual({
        parts: [
          ['2-4', '234'],
          ['30-35', 'uvwxyz'],
        ],
        closed: true,
      });
    }
  });

  it('takes a preamble, LF line ends, padding after the boundary and extra part headers', () => {
    const body = Buffer.from(
      'this is a preamble\n--xyz  \nX-Extra: 1\ncontent-range: bytes 0-1/36\n\n01\n--xyz\nContent-Range:bytes 5-5/*\n\n5\n--xyz--\nepilogue',
      'latin1',
    );
    for (const step of [1, 3, body.length]) {
      expect(parse('xyz', body, step)).toEqual({
        parts: [
          ['0-1', '01'],
          ['5-5', '5'],
        ],
        closed: true,
      });
    }
  });

  it('is not closed when the body stops before the closing boundary', () => {
    expect(parse('00000000000000000001', nginx.subarray(0, nginx.length - 10)).closed).toBe(false);
  });

  const broken: Array<[string, string, RegExp]> = [
    ['a part without Content-Range', '--b\r\nContent-Type: x\r\n\r\n01\r\n--b--\r\n', /without a valid Content-Range/],
    ['an empty header block', '--b\r\n\r\n01', /without a valid Content-Range/],
    ['data longer than its Content-Range', '--b\r\nContent-Range: bytes 0-1/36\r\n\r\n012\r\n--b--\r\n', /no line break after a part/],
    ['another boundary after a part', '--b\r\nContent-Range: bytes 0-1/36\r\n\r\n01\r\n--c--\r\n', /not followed by the boundary/],
    ['text after the boundary', '--b junk\r\nContent-Range: bytes 0-1/36\r\n\r\n01', /text after the boundary/],
  ];
  for (const [name, body, message] of broken) {
    it(`refuses ${name}`, () => {
      expect(() => parse('b', Buffer.from(body, 'latin1'))).toThrow(message);
      expect(() => parse('b', Buffer.from(body, 'latin1'), 1)).toThrow(MultipartError);
    });
  }

  it('refuses a part header (or preamble) beyond its bound instead of buffering it', () => {
    const header = `--b\r\nX-Big: ${'x'.repeat(MAX_PART_HEADER_BYTES)}\r\n`;
    expect(() => parse('b', Buffer.from(header, 'latin1'), 1000)).toThrow(/longer than/);
    expect(() => parse('b', Buffer.alloc(MAX_PART_HEADER_BYTES + 10, 0x41), 1000)).toThrow(/longer than/);
  });
});

describe('byterangesLayout', () => {
  it('writes a body that parses back to the ranges, of the announced length', () => {
    const ranges = [
      { start: 0, endInclusive: 0 },
      { start: 10, endInclusive: 19 },
      { start: 35, endInclusive: 35 },
    ];
    const { heads, tail, lengthBytes } = byterangesLayout(ranges, file.length, 'BOUND', 'application/octet-stream');
    const body = Buffer.concat([...ranges.flatMap((r, i) => [Buffer.from(heads[i] as string), file.subarray(r.start, r.endInclusive + 1)]), Buffer.from(tail)]);
    expect(body.length).toBe(lengthBytes);
    expect(parse('BOUND', body, 7)).toEqual({
      parts: [
        ['0-0', '0'],
        ['10-19', 'abcdefghij'],
        ['35-35', 'z'],
      ],
      closed: true,
    });
  });
});
