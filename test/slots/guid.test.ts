// GPT mixed-endian GUIDs: known vector, round trip, random v4.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeGuid, encodeGuid, isGuidText, isZeroGuid, randomGuid } from '../../src/slots/guid.ts';

describe('GPT GUID encoding', () => {
  it('stores the first three fields little-endian and the last two big-endian (EFI System type)', () => {
    const buf = Buffer.alloc(16);
    encodeGuid('C12A7328-F81F-11D2-BA4B-00A0C93EC93B', buf);
    expect(buf.toString('hex')).toBe('28732ac11ff8d211ba4b00a0c93ec93b');
    expect(decodeGuid(buf)).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  });

  it('round-trips any 16 bytes, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(8), (bytes, offset) => {
        const buf = Buffer.alloc(32);
        buf.set(bytes, offset);
        const text = decodeGuid(buf, offset);
        const back = Buffer.alloc(32);
        encodeGuid(text, back, offset);
        expect(back.subarray(offset, offset + 16).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('rejects text that is not a GUID', () => {
    expect(() => encodeGuid('not-a-guid', Buffer.alloc(16))).toThrow(/Not a GUID: "not-a-guid"/);
    expect(isGuidText('5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6')).toBe(true);
    expect(isGuidText('5dfbf5f4-2848-4bac-aa5e-0d9a20b745a')).toBe(false);
  });

  it('makes random version-4 GUIDs, lower-case and distinct', () => {
    const a = randomGuid();
    const b = randomGuid();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });

  it('tells an unused (all-zero) GUID from a used one', () => {
    const buf = Buffer.alloc(20);
    expect(isZeroGuid(buf, 2)).toBe(true);
    buf[17] = 1;
    expect(isZeroGuid(buf, 2)).toBe(false);
    expect(isZeroGuid(buf, 0)).toBe(true);
  });
});
