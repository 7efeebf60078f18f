// GPT entry codec: fields, UTF-16 names, attribute-only updates, any entry size.
import { describe, expect, it } from 'vitest';
import { decodeGptEntries, decodeGptEntry, encodeGptEntry, isEntryUsed, setEntryAttributes } from '../../src/slots/gpt-entry.ts';

const usr = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';

describe('GPT entries', () => {
  it('encodes and decodes an entry (type, uuid, LBAs, attributes, UTF-16 name)', () => {
    const shape = { entryCount: 8, entrySizeBytes: 128 };
    const entries = Buffer.alloc(8 * 128);
    const entry = {
      partition: 3,
      typeGuid: usr,
      uuid: '7130c94a-213a-4e5a-8e26-6cce9662f132',
      firstLba: 4096,
      lastLba: 266239,
      attributes: 0x0101000000000000n,
      label: 'USR-A',
    };
    encodeGptEntry(entries, shape, entry);
    expect(entries.readBigUInt64LE(2 * 128 + 32)).toBe(4096n);
    expect(entries.toString('utf16le', 2 * 128 + 56, 2 * 128 + 66)).toBe('USR-A');
    expect(decodeGptEntry(entries, shape, 3)).toEqual(entry);
    expect(decodeGptEntry(entries, shape, 2)).toBeUndefined();
    expect(isEntryUsed(entries, shape, 3)).toBe(true);
    expect(decodeGptEntries(entries, shape).map((e) => e.partition)).toEqual([3]);
  });

  it('decodes a 36-character name with no terminator and non-ASCII names', () => {
    const shape = { entryCount: 2, entrySizeBytes: 128 };
    const entries = Buffer.alloc(256);
    const long = 'x'.repeat(36);
    encodeGptEntry(entries, shape, { partition: 1, typeGuid: usr, uuid: usr, firstLba: 1, lastLba: 2, attributes: 0n, label: long });
    encodeGptEntry(entries, shape, { partition: 2, typeGuid: usr, uuid: usr, firstLba: 3, lastLba: 4, attributes: 0n, label: 'Données' });
    expect(decodeGptEntry(entries, shape, 1)?.label).toBe(long);
    expect(decodeGptEntry(entries, shape, 2)?.label).toBe('Données');
    expect(() =>
      encodeGptEntry(entries, shape, { partition: 1, typeGuid: usr, uuid: usr, firstLba: 1, lastLba: 2, attributes: 0n, label: 'y'.repeat(37) }),
    ).toThrow(/longer than 36/);
  });

  it('changes only the eight attribute bytes of one entry, with larger entries too', () => {
    const shape = { entryCount: 4, entrySizeBytes: 256 };
    const entries = Buffer.alloc(4 * 256);
    for (let i = 0; i < entries.length; i++) entries[i] = (i * 7 + 3) & 0xff;
    const before = Buffer.from(entries);
    setEntryAttributes(entries, shape, 2, 0x0012000000000004n);
    const changed = [...entries.keys()].filter((i) => entries[i] !== before[i]);
    expect(Math.min(...changed)).toBeGreaterThanOrEqual(256 + 48);
    expect(Math.max(...changed)).toBeLessThan(256 + 56);
    expect(decodeGptEntry(entries, shape, 2)?.attributes).toBe(0x0012000000000004n);
  });

  it('refuses partition numbers outside the array', () => {
    const shape = { entryCount: 4, entrySizeBytes: 128 };
    expect(() => decodeGptEntry(Buffer.alloc(512), shape, 5)).toThrow(/Partition 5 is outside 1..4/);
    expect(() => setEntryAttributes(Buffer.alloc(512), shape, 0, 0n)).toThrow(/Partition 0/);
  });
});
