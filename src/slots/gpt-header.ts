// The GPT header codec (pure): decode, validate against the disk's geometry, and encode with its
// CRC32. The whole header sector is kept, so bytes the project does not own survive a rewrite.

import { crc32 } from 'node:zlib';
import { decodeGuid, encodeGuid } from './guid.ts';

export const GPT_SIGNATURE = 'EFI PART';
/** The size of the header fields defined by UEFI 2.x; a header may declare more (reserved) bytes. */
export const GPT_HEADER_MIN_BYTES = 92;
/** Refuse absurd entry arrays (a corrupt header must not make us allocate gigabytes). */
export const GPT_ENTRIES_MAX_BYTES = 16 * 1024 * 1024;

export interface GptHeader {
  revision: number;
  headerSizeBytes: number;
  headerCrc32: number;
  /** LBA of this header. */
  myLba: number;
  /** LBA of the other copy's header. */
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  /** LBA where this copy's entry array starts. */
  entriesLba: number;
  entryCount: number;
  entrySizeBytes: number;
  entriesCrc32: number;
  /** The header's whole sector as read; encodeGptHeader starts from it. */
  sector: Buffer;
}

export interface DiskGeometry {
  sectorSizeBytes: number;
  totalSectors: number;
}

function u64(buf: Buffer, offset: number): number {
  const v = buf.readBigUInt64LE(offset);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Decodes the fields of a header sector without judging them. */
export function decodeGptHeader(sector: Buffer): GptHeader {
  return {
    revision: sector.readUInt32LE(8),
    headerSizeBytes: sector.readUInt32LE(12),
    headerCrc32: sector.readUInt32LE(16),
    myLba: u64(sector, 24),
    alternateLba: u64(sector, 32),
    firstUsableLba: u64(sector, 40),
    lastUsableLba: u64(sector, 48),
    diskGuid: decodeGuid(sector, 56),
    entriesLba: u64(sector, 72),
    entryCount: sector.readUInt32LE(80),
    entrySizeBytes: sector.readUInt32LE(84),
    entriesCrc32: sector.readUInt32LE(88),
    sector: Buffer.from(sector),
  };
}

/** The CRC32 of the first `headerSizeBytes` of a header sector, with its CRC field taken as zero. */
export function computeHeaderCrc32(sector: Buffer, headerSizeBytes: number): number {
  const copy = Buffer.from(sector.subarray(0, headerSizeBytes));
  copy.writeUInt32LE(0, 16);
  return crc32(copy);
}

export function entriesByteLength(h: Pick<GptHeader, 'entryCount' | 'entrySizeBytes'>): number {
  return h.entryCount * h.entrySizeBytes;
}

export function entriesSectorCount(h: Pick<GptHeader, 'entryCount' | 'entrySizeBytes'>, sectorSizeBytes: number): number {
  return Math.ceil(entriesByteLength(h) / sectorSizeBytes);
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Checks a header sector read from `lba`: signature, size, CRC, its own LBA, and that every LBA it
 * names lies on the disk without overlapping the usable area. Returns the reason when it fails.
 */
export function checkGptHeader(sector: Buffer, lba: number, geometry: DiskGeometry): { header: GptHeader } | { reason: string } {
  const { sectorSizeBytes, totalSectors } = geometry;
  const lastLba = totalSectors - 1;
  if (sector.length < sectorSizeBytes) return { reason: `the disk ends before LBA ${lba}` };
  if (sector.toString('latin1', 0, 8) !== GPT_SIGNATURE) return { reason: `no "${GPT_SIGNATURE}" signature at LBA ${lba}` };
  const h = decodeGptHeader(sector);
  if (h.headerSizeBytes < GPT_HEADER_MIN_BYTES || h.headerSizeBytes > sectorSizeBytes) {
    return { reason: `header size ${h.headerSizeBytes} is outside ${GPT_HEADER_MIN_BYTES}..${sectorSizeBytes}` };
  }
  const crc = computeHeaderCrc32(sector, h.headerSizeBytes);
  if (crc !== h.headerCrc32) return { reason: `header CRC32 ${hex(h.headerCrc32)} does not match the computed ${hex(crc)}` };
  if (h.myLba !== lba) return { reason: `header says it is at LBA ${h.myLba}, but it was read from LBA ${lba}` };
  if (h.alternateLba < 1 || h.alternateLba > lastLba || h.alternateLba === h.myLba) {
    return { reason: `alternate header LBA ${h.alternateLba} is not on the disk (LBAs 1..${lastLba})` };
  }
  if (h.firstUsableLba < 2 || h.firstUsableLba > h.lastUsableLba + 1 || h.lastUsableLba >= lastLba) {
    return { reason: `usable LBAs ${h.firstUsableLba}..${h.lastUsableLba} do not fit the disk (last LBA ${lastLba})` };
  }
  // The two copies sit on either side of the usable area (the primary before it, the backup after it).
  if (h.myLba < h.firstUsableLba ? h.alternateLba <= h.lastUsableLba : h.alternateLba >= h.firstUsableLba) {
    return { reason: `alternate header LBA ${h.alternateLba} is not on the other side of the usable LBAs ${h.firstUsableLba}..${h.lastUsableLba}` };
  }
  if (h.entrySizeBytes < 128 || h.entrySizeBytes % 8 !== 0) return { reason: `partition entry size ${h.entrySizeBytes} is invalid (128, 256, ...)` };
  if (h.entryCount < 1 || entriesByteLength(h) > GPT_ENTRIES_MAX_BYTES) return { reason: `partition entry count ${h.entryCount} is invalid` };
  const entriesEnd = h.entriesLba + entriesSectorCount(h, sectorSizeBytes) - 1;
  const overlapsUsable = h.entriesLba <= h.lastUsableLba && entriesEnd >= h.firstUsableLba;
  const overlapsHeader = h.entriesLba <= h.myLba && entriesEnd >= h.myLba;
  if (h.entriesLba < 1 || entriesEnd > lastLba || overlapsUsable || overlapsHeader) {
    return { reason: `partition entries at LBAs ${h.entriesLba}..${entriesEnd} overlap the header or the usable area, or lie off the disk` };
  }
  return { header: h };
}

export type GptHeaderFields = Omit<GptHeader, 'headerCrc32' | 'sector'>;

/**
 * Encodes a header into one sector: starts from `template` (the sector as read, so reserved bytes
 * survive) or zeros, writes every field, then the header CRC32.
 */
export function encodeGptHeader(fields: GptHeaderFields, sectorSizeBytes: number, template?: Buffer): Buffer {
  const s = Buffer.alloc(sectorSizeBytes);
  if (template) template.copy(s, 0, 0, Math.min(template.length, sectorSizeBytes));
  s.write(GPT_SIGNATURE, 0, 'latin1');
  s.writeUInt32LE(fields.revision, 8);
  s.writeUInt32LE(fields.headerSizeBytes, 12);
  s.writeBigUInt64LE(BigInt(fields.myLba), 24);
  s.writeBigUInt64LE(BigInt(fields.alternateLba), 32);
  s.writeBigUInt64LE(BigInt(fields.firstUsableLba), 40);
  s.writeBigUInt64LE(BigInt(fields.lastUsableLba), 48);
  encodeGuid(fields.diskGuid, s, 56);
  s.writeBigUInt64LE(BigInt(fields.entriesLba), 72);
  s.writeUInt32LE(fields.entryCount, 80);
  s.writeUInt32LE(fields.entrySizeBytes, 84);
  s.writeUInt32LE(fields.entriesCrc32, 88);
  s.writeUInt32LE(computeHeaderCrc32(s, fields.headerSizeBytes), 16);
  return s;
}

/** The CRC32 over the entry array (exactly entryCount * entrySizeBytes bytes). */
export function computeEntriesCrc32(entries: Buffer, h: Pick<GptHeader, 'entryCount' | 'entrySizeBytes'>): number {
  return crc32(entries.subarray(0, entriesByteLength(h)));
}
