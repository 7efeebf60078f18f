// GPT header codec: layout, CRC32, kept reserved bytes, and each validation failure.
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { checkGptHeader, computeEntriesCrc32, decodeGptHeader, encodeGptHeader, entriesSectorCount, type GptHeaderFields } from '../../src/slots/gpt-header.ts';

const fields = (over: Partial<GptHeaderFields> = {}): GptHeaderFields => ({
  revision: 0x00010000,
  headerSizeBytes: 92,
  myLba: 1,
  alternateLba: 2047,
  firstUsableLba: 34,
  lastUsableLba: 2014,
  diskGuid: '0f2d5f8a-7f3b-4c1e-9a60-111122223333',
  entriesLba: 2,
  entryCount: 128,
  entrySizeBytes: 128,
  entriesCrc32: 0x12345678,
  ...over,
});
const geometry = { sectorSizeBytes: 512, totalSectors: 2048 };

describe('GPT header codec', () => {
  it('encodes the UEFI layout and decodes it back', () => {
    const s = encodeGptHeader(fields(), 512);
    expect(s.length).toBe(512);
    expect(s.toString('latin1', 0, 8)).toBe('EFI PART');
    expect(s.readUInt32LE(8)).toBe(0x00010000);
    expect(s.readBigUInt64LE(32)).toBe(2047n);
    expect(s.readUInt32LE(88)).toBe(0x12345678);
    const zeroed = Buffer.from(s.subarray(0, 92));
    zeroed.writeUInt32LE(0, 16);
    expect(s.readUInt32LE(16)).toBe(crc32(zeroed));
    const h = decodeGptHeader(s);
    const { headerCrc32: _c, sector: _s, ...back } = h;
    expect(back).toEqual(fields());
    expect(checkGptHeader(s, 1, geometry)).toHaveProperty('header');
  });

  it('keeps the bytes of the sector it was decoded from (reserved fields, a longer header)', () => {
    const template = Buffer.alloc(512, 0);
    template.fill(0xab, 92, 120); // reserved bytes inside a 120-byte header
    template.fill(0xcd, 300, 310); // beyond the header
    template.writeUInt32LE(7, 20); // the reserved word after the CRC
    const s = encodeGptHeader(fields({ headerSizeBytes: 120 }), 512, template);
    expect(s.subarray(92, 120).every((b) => b === 0xab)).toBe(true);
    expect(s.subarray(300, 310).every((b) => b === 0xcd)).toBe(true);
    expect(s.readUInt32LE(20)).toBe(7);
    expect(checkGptHeader(s, 1, geometry)).toHaveProperty('header');
    s[100] = 0; // inside the declared header size: the CRC must notice
    expect(checkGptHeader(s, 1, geometry)).toEqual({ reason: expect.stringMatching(/^header CRC32 0x[0-9a-f]{8} does not match the computed 0x[0-9a-f]{8}$/) });
  });

  it.each<[string, (s: Buffer) => void, Partial<GptHeaderFields>, number, RegExp]>([
    ['no signature', (s) => s.write('EFI PARS', 0, 'latin1'), {}, 1, /no "EFI PART" signature at LBA 1/],
    ['a flipped bit', (s) => (s[60] = (s[60] ?? 0) ^ 1), {}, 1, /header CRC32/],
    ['read from the wrong LBA', () => {}, {}, 5, /header says it is at LBA 1, but it was read from LBA 5/],
    ['an alternate LBA past the end', () => {}, { alternateLba: 4096 }, 1, /alternate header LBA 4096 is not on the disk \(LBAs 1..2047\)/],
    ['a header size below 92', () => {}, { headerSizeBytes: 80 }, 1, /header size 80 is outside 92..512/],
    ['usable LBAs past the end', () => {}, { lastUsableLba: 2047 }, 1, /usable LBAs 34..2047 do not fit the disk/],
    ['entries inside the usable area', () => {}, { entriesLba: 40 }, 1, /partition entries at LBAs 40..71 overlap/],
    ['a bad entry size', () => {}, { entrySizeBytes: 100 }, 1, /partition entry size 100 is invalid/],
    ['no entries', () => {}, { entryCount: 0 }, 1, /partition entry count 0 is invalid/],
  ])('rejects a header with %s', (_name, damage, over, lba, reason) => {
    const s = encodeGptHeader(fields(over), 512);
    damage(s);
    const r = checkGptHeader(s, lba, geometry);
    expect(r).toHaveProperty('reason');
    expect((r as { reason: string }).reason).toMatch(reason);
  });

  it('rejects a sector the disk cut short', () => {
    expect(checkGptHeader(Buffer.alloc(100), 1, geometry)).toEqual({ reason: 'the disk ends before LBA 1' });
  });

  it('works with 4096-byte sectors and any entry count and size', () => {
    const g = { sectorSizeBytes: 4096, totalSectors: 1000 };
    const f = fields({ alternateLba: 999, firstUsableLba: 2 + 16, lastUsableLba: 999 - 17, entryCount: 256, entrySizeBytes: 256 });
    expect(entriesSectorCount(f, 4096)).toBe(16);
    const s = encodeGptHeader(f, 4096);
    expect(s.length).toBe(4096);
    expect(checkGptHeader(s, 1, g)).toHaveProperty('header');
  });

  it('computes the entries CRC over entryCount * entrySize bytes only', () => {
    const entries = Buffer.alloc(1024, 0);
    entries[5] = 9;
    const a = computeEntriesCrc32(entries, { entryCount: 4, entrySizeBytes: 128 });
    entries[600] = 1; // past 4 * 128
    expect(computeEntriesCrc32(entries, { entryCount: 4, entrySizeBytes: 128 })).toBe(a);
    expect(a).toBe(crc32(entries.subarray(0, 512)));
  });
});
