// The in-memory GPT (pure): one entry array and the two headers that will describe it, which copy
// it was read from, and how each copy is rebuilt from the other when it is damaged or stale.

import { UpdateEngineError } from '../errors.ts';
import {
  checkGptHeader,
  computeEntriesCrc32,
  encodeGptHeader,
  entriesSectorCount,
  type DiskGeometry,
  type GptHeader,
  type GptHeaderFields,
} from './gpt-header.ts';

export type GptCopy = 'primary' | 'backup';

export interface GptTable {
  geometry: DiskGeometry;
  /** The primary header's fields and sector, as they will be written at LBA 1. */
  primary: GptHeader;
  /** The backup header's fields and sector, as they will be written at the primary's alternate LBA. */
  backup: GptHeader;
  /** The entry array in whole sectors (the CRC covers entryCount * entrySizeBytes of it). */
  entries: Buffer;
  /** The copy the table was read from; the writer rewrites the other copy first. */
  source: GptCopy;
  /** What was wrong on disk (damaged or stale copy); empty when both copies were valid and equal. */
  problems: string[];
}

export type GptWriteStep = 'backup-entries' | 'backup-header' | 'primary-entries' | 'primary-header';

export interface GptWrite {
  step: GptWriteStep;
  offsetBytes: number;
  data: Buffer;
}

function fieldsOf(h: GptHeader): GptHeaderFields {
  const { headerCrc32: _crc, sector: _sector, ...fields } = h;
  return fields;
}

function finish(fields: GptHeaderFields, template: Buffer, geometry: DiskGeometry, what: string): GptHeader {
  if (fields.entriesLba < 1)
    throw new UpdateEngineError('ERR_GPT_INVALID', `Cannot rebuild the ${what} GPT header: its entries would start at LBA ${fields.entriesLba}`);
  const sector = encodeGptHeader(fields, geometry.sectorSizeBytes, template);
  const checked = checkGptHeader(sector, fields.myLba, geometry);
  if ('reason' in checked) throw new UpdateEngineError('ERR_GPT_INVALID', `Cannot rebuild the ${what} GPT header: ${checked.reason}`);
  return checked.header;
}

/** The backup header that matches `primary`; its entries go at `entriesLba` (default: just before the header). */
export function deriveBackupHeader(primary: GptHeader, geometry: DiskGeometry, entriesLba?: number): GptHeader {
  const sectors = entriesSectorCount(primary, geometry.sectorSizeBytes);
  const fields: GptHeaderFields = {
    ...fieldsOf(primary),
    myLba: primary.alternateLba,
    alternateLba: primary.myLba,
    entriesLba: entriesLba ?? primary.alternateLba - sectors,
  };
  return finish(fields, primary.sector, geometry, 'backup');
}

/** The primary header (LBA 1, entries from LBA 2) that matches `backup`. */
export function derivePrimaryHeader(backup: GptHeader, geometry: DiskGeometry): GptHeader {
  const fields: GptHeaderFields = { ...fieldsOf(backup), myLba: 1, alternateLba: backup.myLba, entriesLba: 2 };
  return finish(fields, backup.sector, geometry, 'primary');
}

/** True when two valid copies describe the same table (same entries and mirrored headers). */
export function copiesAgree(primary: GptHeader, backup: GptHeader, primaryEntries: Buffer, backupEntries: Buffer): boolean {
  const length = primary.entryCount * primary.entrySizeBytes;
  return (
    primary.diskGuid === backup.diskGuid &&
    primary.firstUsableLba === backup.firstUsableLba &&
    primary.lastUsableLba === backup.lastUsableLba &&
    primary.entryCount === backup.entryCount &&
    primary.entrySizeBytes === backup.entrySizeBytes &&
    primary.alternateLba === backup.myLba &&
    backup.alternateLba === primary.myLba &&
    primary.revision === backup.revision &&
    primary.headerSizeBytes === backup.headerSizeBytes &&
    primaryEntries.subarray(0, length).equals(backupEntries.subarray(0, length))
  );
}

function headerWith(h: GptHeader, entriesCrc32: number, geometry: DiskGeometry): Buffer {
  return encodeGptHeader({ ...fieldsOf(h), entriesCrc32 }, geometry.sectorSizeBytes, h.sector);
}

/**
 * The four writes that put `table` on disk, in crash-safe order: the copy that was not the source
 * first (entries, then header), then the source copy. Until the second copy's header is written,
 * the source copy still describes the old table, so a crash leaves one valid copy, old or new.
 */
export function planGptWrites(table: GptTable): GptWrite[] {
  const { geometry } = table;
  const crc = computeEntriesCrc32(table.entries, table.primary);
  const ss = geometry.sectorSizeBytes;
  const copy = (which: GptCopy): GptWrite[] => {
    const h = which === 'primary' ? table.primary : table.backup;
    return [
      { step: `${which}-entries`, offsetBytes: h.entriesLba * ss, data: table.entries },
      { step: `${which}-header`, offsetBytes: h.myLba * ss, data: headerWith(h, crc, geometry) },
    ];
  };
  return table.source === 'primary' ? [...copy('backup'), ...copy('primary')] : [...copy('primary'), ...copy('backup')];
}
