// Boot attribute bits: decode/encode tables and a property that every other bit survives.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBootAttributes, encodeBootAttributes } from '../../src/slots/attributes.ts';

describe('boot attribute bits', () => {
  it.each([
    [0n, { priority: 0, tries: 0, successful: false }],
    [1n << 48n, { priority: 1, tries: 0, successful: false }],
    [(1n << 56n) | (1n << 48n), { priority: 1, tries: 0, successful: true }],
    [(2n << 48n) | (1n << 52n), { priority: 2, tries: 1, successful: false }],
    [0xffffffffffffffffn, { priority: 15, tries: 15, successful: true }],
    [(1n << 63n) | (1n << 2n), { priority: 0, tries: 0, successful: false }],
  ])('decodes %s', (attributes, expected) => {
    expect(decodeBootAttributes(attributes)).toEqual(expected);
  });

  it('encodes S<<56 | T<<52 | P<<48', () => {
    expect(encodeBootAttributes(0n, { priority: 2, tries: 1, successful: false })).toBe(0x0012000000000000n);
    expect(encodeBootAttributes(0n, { priority: 1, tries: 0, successful: true })).toBe(0x0101000000000000n);
  });

  it('keeps every bit it does not own', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat(15), fc.nat(15), fc.boolean(), (attributes, priority, tries, successful) => {
        const out = encodeBootAttributes(attributes, { priority, tries, successful });
        const owned = 0x1ffn << 48n;
        expect(out & ~owned).toBe(attributes & ~owned);
        expect(decodeBootAttributes(out)).toEqual({ priority, tries, successful });
      }),
    );
  });

  it('refuses values that do not fit four bits', () => {
    expect(() => encodeBootAttributes(0n, { priority: 16, tries: 0, successful: false })).toThrow(/priority must be an integer from 0 to 15, got 16/);
    expect(() => encodeBootAttributes(0n, { priority: 0, tries: -1, successful: false })).toThrow(/tries/);
  });
});
