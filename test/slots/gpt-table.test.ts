// The table model: rebuilding one copy from the other and the crash-safe write plan.
import { describe, expect, it } from 'vitest';
import { checkGptHeader, computeEntriesCrc32, encodeGptHeader, type GptHeader } from '../../src/slots/gpt-header.ts';
import { copiesAgree, deriveBackupHeader, derivePrimaryHeader, planGptWrites, type GptTable } from '../../src/slots/gpt-table.ts';

const geometry = { sectorSizeBytes: 512, totalSectors: 2048 };

function primaryHeader(entries: Buffer): GptHeader {
  const s = encodeGptHeader(
    {
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
      entriesCrc32: computeEntriesCrc32(entries, { entryCount: 128, entrySizeBytes: 128 }),
    },
    512,
  );
  const r = checkGptHeader(s, 1, geometry);
  if (!('header' in r)) throw new Error(r.reason);
  return r.header;
}

describe('GPT table model', () => {
  const entries = Buffer.alloc(32 * 512);
  entries[0] = 1;
  const primary = primaryHeader(entries);

  it('derives the backup header: mirrored LBAs, entries just before it, same everything else', () => {
    const b = deriveBackupHeader(primary, geometry);
    expect([b.myLba, b.alternateLba, b.entriesLba]).toEqual([2047, 1, 2015]);
    expect(b.diskGuid).toBe(primary.diskGuid);
    expect(derivePrimaryHeader(b, geometry).sector.equals(primary.sector)).toBe(true);
    expect(copiesAgree(primary, b, entries, entries)).toBe(true);
  });

  it('notices copies that disagree on entries or on geometry', () => {
    const b = deriveBackupHeader(primary, geometry);
    const other = Buffer.from(entries);
    other[200] = 5;
    expect(copiesAgree(primary, b, entries, other)).toBe(false);
    expect(copiesAgree(primary, { ...b, lastUsableLba: 2000 }, entries, entries)).toBe(false);
  });

  it('refuses to rebuild a header that would not fit', () => {
    expect(() => deriveBackupHeader(primary, geometry, 10)).toThrow(/Cannot rebuild the backup GPT header: partition entries at LBAs 10..41/);
  });

  it('plans the other copy first, then the source copy; entries before header', () => {
    const table: GptTable = { geometry, primary, backup: deriveBackupHeader(primary, geometry), entries, source: 'primary', problems: [] };
    const plan = planGptWrites(table);
    expect(plan.map((w) => [w.step, w.offsetBytes / 512])).toEqual([
      ['backup-entries', 2015],
      ['backup-header', 2047],
      ['primary-entries', 2],
      ['primary-header', 1],
    ]);
    expect(planGptWrites({ ...table, source: 'backup' }).map((w) => w.step)).toEqual(['primary-entries', 'primary-header', 'backup-entries', 'backup-header']);
  });

  it('writes headers whose entries CRC covers the current entries', () => {
    const changed = Buffer.from(entries);
    changed[130] = 42;
    const table: GptTable = { geometry, primary, backup: deriveBackupHeader(primary, geometry), entries: changed, source: 'primary', problems: [] };
    const crc = computeEntriesCrc32(changed, primary);
    for (const w of planGptWrites(table).filter((x) => x.step.endsWith('header'))) {
      const r = checkGptHeader(w.data, w.offsetBytes / 512, geometry);
      expect(r).toHaveProperty('header');
      expect((r as { header: GptHeader }).header.entriesCrc32).toBe(crc);
    }
  });
});
