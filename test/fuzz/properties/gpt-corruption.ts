// Corruptions of a GPT disk image for fuzzing the slot code: raw damage (bit flips, random bytes,
// zeroed or random sectors, a header copied to the other copy's place) anywhere in the protective MBR,
// headers and entry arrays; and checksummed damage (a header or entry field changed, CRCs recomputed).

import fc from 'fast-check';
import { crc32 } from 'node:zlib';

/** Where the GPT structures of an image are (in bytes), found from its valid primary header. */
export interface GptLayout {
  sectorBytes: number;
  totalBytes: number;
  primaryHeader: number;
  primaryEntries: number;
  backupEntries: number;
  backupHeader: number;
  entriesBytes: number;
  entrySizeBytes: number;
  headerSizeBytes: number;
}

export function gptLayout(image: Buffer, sectorBytes: number): GptLayout {
  const h = image.subarray(sectorBytes, 2 * sectorBytes);
  const entryCount = h.readUInt32LE(80);
  const entrySizeBytes = h.readUInt32LE(84);
  const entriesBytes = entryCount * entrySizeBytes;
  const backupHeader = Number(h.readBigUInt64LE(32)) * sectorBytes;
  const backupEntries = Number(image.subarray(backupHeader, backupHeader + sectorBytes).readBigUInt64LE(72)) * sectorBytes;
  return {
    sectorBytes,
    totalBytes: image.length,
    primaryHeader: sectorBytes,
    primaryEntries: Number(h.readBigUInt64LE(72)) * sectorBytes,
    backupEntries,
    backupHeader,
    entriesBytes,
    entrySizeBytes,
    headerSizeBytes: h.readUInt32LE(12),
  };
}

export interface Corruption {
  name: string;
  apply(image: Buffer, layout: GptLayout): void;
  /** True when CRCs were recomputed (the damage is only visible to a semantic check). */
  checksummed: boolean;
}

type Region = 'mbr' | 'primary-header' | 'primary-entries' | 'backup-entries' | 'backup-header';
const REGIONS: Region[] = ['mbr', 'primary-header', 'primary-entries', 'backup-entries', 'backup-header'];

function regionSpan(l: GptLayout, r: Region): [number, number] {
  switch (r) {
    case 'mbr':
      return [0, 512];
    case 'primary-header':
      return [l.primaryHeader, l.primaryHeader + l.sectorBytes];
    case 'primary-entries':
      return [l.primaryEntries, l.primaryEntries + l.entriesBytes];
    case 'backup-entries':
      return [l.backupEntries, l.backupEntries + l.entriesBytes];
    case 'backup-header':
      return [l.backupHeader, l.backupHeader + l.sectorBytes];
  }
}

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const within = (l: GptLayout, r: Region, f: number) => {
  const [from, to] = regionSpan(l, r);
  return from + Math.floor(f * (to - from));
};

const rawCorruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.tuple(fc.constantFrom(...REGIONS), frac, fc.nat(7)).map(([r, f, bit]) => ({
    name: `flip a bit in the ${r}`,
    checksummed: false,
    apply: (img: Buffer, l: GptLayout) => {
      const i = within(l, r, f);
      img[i] = (img[i] ?? 0) ^ (1 << bit);
    },
  })),
  fc.tuple(fc.constantFrom(...REGIONS), frac, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([r, f, bytes]) => ({
    name: `overwrite ${bytes.length} byte(s) of the ${r}`,
    checksummed: false,
    apply: (img: Buffer, l: GptLayout) => img.set(bytes.subarray(0, Math.max(0, regionSpan(l, r)[1] - within(l, r, f))), within(l, r, f)),
  })),
  fc.tuple(fc.constantFrom(...REGIONS), frac, fc.boolean()).map(([r, f, zero]) => ({
    name: `${zero ? 'zero' : 'randomize'} a sector of the ${r}`,
    checksummed: false,
    apply: (img: Buffer, l: GptLayout) => {
      const start = Math.floor(within(l, r, f) / l.sectorBytes) * l.sectorBytes;
      for (let i = start; i < start + l.sectorBytes; i++) img[i] = zero ? 0 : (i * 2654435761) >>> 24;
    },
  })),
  fc.boolean().map((toBackup) => ({
    name: `copy the ${toBackup ? 'primary header over the backup' : 'backup header over the primary'}`,
    checksummed: false,
    apply: (img: Buffer, l: GptLayout) => {
      const [from, to] = toBackup ? [l.primaryHeader, l.backupHeader] : [l.backupHeader, l.primaryHeader];
      img.copyWithin(to, from, from + l.sectorBytes);
    },
  })),
);

/** Header fields (offset, width in bytes) a checksummed corruption may change. */
export const HEADER_FIELDS: Array<[string, number, 4 | 8]> = [
  ['revision', 8, 4],
  ['header size', 12, 4],
  ['my LBA', 24, 8],
  ['alternate LBA', 32, 8],
  ['first usable LBA', 40, 8],
  ['last usable LBA', 48, 8],
  ['entries LBA', 72, 8],
  ['entry count', 80, 4],
  ['entry size', 84, 4],
];
/** Entry fields (offset within the entry, width). */
export const ENTRY_FIELDS: Array<[string, number, 8 | 16]> = [
  ['type GUID', 0, 16],
  ['first LBA', 32, 8],
  ['last LBA', 40, 8],
  ['attributes', 48, 8],
];

const fieldValueArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 70_000n }),
  fc.constantFrom(0n, 1n, 2n, 33n, 34n, 128n, 2048n),
);

/** Rewrites the entries CRC and the header CRC of one copy (header at `header`, entries at `entries`). */
export function resealCopy(img: Buffer, l: GptLayout, header: number, entries: number): void {
  const h = img.subarray(header, header + l.sectorBytes);
  h.writeUInt32LE(crc32(img.subarray(entries, entries + l.entriesBytes)), 88);
  const size = Math.min(Math.max(h.readUInt32LE(12), 92), l.sectorBytes);
  h.writeUInt32LE(0, 16);
  h.writeUInt32LE(crc32(h.subarray(0, size)), 16);
}

/** Sets a header field of one copy to `value` and reseals that copy. */
export function setHeaderField([field, offset, width]: [string, number, 4 | 8], value: bigint, primary: boolean): Corruption {
  return {
    name: `set the ${primary ? 'primary' : 'backup'} header's ${field} to ${value} (CRCs fixed)`,
    checksummed: true,
    apply: (img: Buffer, l: GptLayout) => {
      const at = (primary ? l.primaryHeader : l.backupHeader) + offset;
      if (width === 8) img.writeBigUInt64LE(value, at);
      else img.writeUInt32LE(Number(value & 0xffffffffn), at);
      resealCopy(img, l, primary ? l.primaryHeader : l.backupHeader, primary ? l.primaryEntries : l.backupEntries);
    },
  };
}

/** Sets a field of partition entry `partition` in one or both copies to `value` and reseals them. */
export function setEntryField(
  [field, offset, width]: [string, number, 8 | 16],
  partition: number,
  value: bigint,
  copies: 'primary' | 'backup' | 'both',
): Corruption {
  return {
    name: `set partition ${partition}'s ${field} to ${value} in ${copies === 'both' ? 'both copies' : `the ${copies}`} (CRCs fixed)`,
    checksummed: true,
    apply: (img: Buffer, l: GptLayout) => {
      for (const copy of copies === 'both' ? ['primary', 'backup'] : [copies]) {
        const [header, entries] = copy === 'primary' ? [l.primaryHeader, l.primaryEntries] : [l.backupHeader, l.backupEntries];
        const at = entries + (partition - 1) * l.entrySizeBytes + offset;
        img.writeBigUInt64LE(value, at);
        if (width === 16) img.writeBigUInt64LE(value ^ 0x5a5a5a5a5a5a5a5an, at + 8);
        resealCopy(img, l, header, entries);
      }
    },
  };
}

const checksummedCorruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.tuple(fc.constantFrom(...HEADER_FIELDS), fieldValueArb, fc.boolean()).map(([field, value, primary]) => setHeaderField(field, value, primary)),
  fc
    .tuple(
      fc.constantFrom(...ENTRY_FIELDS),
      fc.integer({ min: 1, max: 10 }),
      fieldValueArb,
      fc.constantFrom('primary' as const, 'backup' as const, 'both' as const),
    )
    .map(([field, partition, value, copies]) => setEntryField(field, partition, value, copies)),
);

/** One to four corruptions, raw or checksummed. */
export const corruptionsArb: fc.Arbitrary<Corruption[]> = fc.array(
  fc.oneof({ weight: 3, arbitrary: rawCorruptionArb }, { weight: 2, arbitrary: checksummedCorruptionArb }),
  { minLength: 1, maxLength: 4 },
);
