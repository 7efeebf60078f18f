// Reads the GPT of a Disk: validates both copies (signature, header CRC, LBAs, entries CRC), takes
// the primary when it is valid (it is what the firmware, GRUB and the kernel use), else the backup,
// and prepares the rebuild of a damaged or stale copy for the next write.

import { UpdateEngineError } from '../errors.ts';
import { checkGptHeader, computeEntriesCrc32, entriesSectorCount, type DiskGeometry, type GptHeader } from './gpt-header.ts';
import { copiesAgree, deriveBackupHeader, derivePrimaryHeader, type GptTable } from './gpt-table.ts';
import { totalSectors, type Disk } from './disk.ts';
import { decodeGptEntries, type GptEntry } from './gpt-entry.ts';

type CopyRead = { header: GptHeader; entries: Buffer } | { reason: string; hasSignature: boolean };

async function readCopy(disk: Disk, lba: number, geometry: DiskGeometry): Promise<CopyRead> {
  const ss = geometry.sectorSizeBytes;
  const sector = await disk.read(lba * ss, ss);
  const hasSignature = sector.length >= 8 && sector.toString('latin1', 0, 8) === 'EFI PART';
  const checked = checkGptHeader(sector, lba, geometry);
  if ('reason' in checked) return { reason: checked.reason, hasSignature };
  const h = checked.header;
  const entries = await disk.read(h.entriesLba * ss, entriesSectorCount(h, ss) * ss);
  if (entries.length < entriesSectorCount(h, ss) * ss) return { reason: `the disk ends inside the partition entries at LBA ${h.entriesLba}`, hasSignature };
  const crc = computeEntriesCrc32(entries, h);
  if (crc !== h.entriesCrc32) {
    return {
      reason: `partition entries CRC32 0x${h.entriesCrc32.toString(16).padStart(8, '0')} does not match the computed 0x${crc.toString(16).padStart(8, '0')}`,
      hasSignature,
    };
  }
  const misplaced = checkEntryRanges(entries, h);
  if (misplaced) return { reason: misplaced, hasSignature };
  return { header: h, entries };
}

/** A copy whose CRCs match can still be nonsense: every used entry must lie in the usable LBAs, none overlapping. */
function checkEntryRanges(entries: Buffer, h: GptHeader): string | undefined {
  let previous: GptEntry | undefined;
  for (const e of decodeGptEntries(entries, h).sort((a, b) => a.firstLba - b.firstLba)) {
    if (e.firstLba > e.lastLba || e.firstLba < h.firstUsableLba || e.lastLba > h.lastUsableLba) {
      return `partition ${e.partition} (LBAs ${e.firstLba}..${e.lastLba}) is not inside the usable LBAs ${h.firstUsableLba}..${h.lastUsableLba}`;
    }
    if (previous && e.firstLba <= previous.lastLba) return `partitions ${previous.partition} and ${e.partition} overlap`;
    previous = e;
  }
  return undefined;
}

/** Reads and validates the GPT; throws ERR_GPT_INVALID when neither copy is valid. */
export async function readGptTable(disk: Disk): Promise<GptTable> {
  const geometry: DiskGeometry = { sectorSizeBytes: disk.sectorSizeBytes, totalSectors: totalSectors(disk) };
  const lastLba = geometry.totalSectors - 1;
  if (geometry.totalSectors < 6) {
    throw new UpdateEngineError('ERR_GPT_INVALID', `"${disk.path}" is not a GPT disk: it is only ${disk.sizeBytes} bytes`);
  }
  const primary = await readCopy(disk, 1, geometry);
  const backupLba = 'header' in primary ? primary.header.alternateLba : lastLba;
  const backup = await readCopy(disk, backupLba, geometry);

  if ('header' in primary) {
    const problems: string[] = [];
    let backupHeader: GptHeader;
    if ('header' in backup) {
      const agree = copiesAgree(primary.header, backup.header, primary.entries, backup.entries);
      if (!agree) problems.push(`the backup GPT at LBA ${backupLba} differs from the primary`);
      const sameShape = backup.header.entryCount === primary.header.entryCount && backup.header.entrySizeBytes === primary.header.entrySizeBytes;
      backupHeader = agree ? backup.header : deriveBackupHeader(primary.header, geometry, sameShape ? backup.header.entriesLba : undefined);
    } else {
      problems.push(`the backup GPT at LBA ${backupLba} is damaged: ${backup.reason}`);
      backupHeader = deriveBackupHeader(primary.header, geometry);
    }
    return { geometry, primary: primary.header, backup: backupHeader, entries: primary.entries, source: 'primary', problems };
  }
  if ('header' in backup) {
    const rebuilt = derivePrimaryHeader(backup.header, geometry);
    return {
      geometry,
      primary: rebuilt,
      // Rewritten to point back at LBA 1 (a backup whose alternate LBA is wrong would stay wrong).
      backup: deriveBackupHeader(rebuilt, geometry, backup.header.entriesLba),
      entries: backup.entries,
      source: 'backup',
      problems: [`the primary GPT at LBA 1 is damaged: ${primary.reason}`],
    };
  }
  if (!primary.hasSignature && !backup.hasSignature) {
    throw new UpdateEngineError(
      'ERR_GPT_INVALID',
      `"${disk.path}" is not a GPT disk: no "EFI PART" header at LBA 1 or at LBA ${lastLba} (sector size ${geometry.sectorSizeBytes})`,
    );
  }
  throw new UpdateEngineError('ERR_GPT_INVALID', `No valid GPT on "${disk.path}": primary: ${primary.reason}; backup: ${backup.reason}`);
}
