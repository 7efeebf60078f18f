// createDiskImage: a fresh GPT disk image built with the project's own codec (no sgdisk, no root):
// protective MBR, both GPT copies, and by default Flatcar's layout 1 EFI-SYSTEM, 2 BIOS-BOOT,
// 3 USR-A (priority=1 tries=0 successful=1), 4 USR-B (all 0), 9 ROOT. The file is sparse.

import { open, stat } from 'node:fs/promises';
import { UpdateEngineError } from '../errors.ts';
import { decodeBootAttributes, encodeBootAttributes } from './attributes.ts';
import { encodeGptEntry } from './gpt-entry.ts';
import { checkGptHeader, computeEntriesCrc32, encodeGptHeader, GPT_HEADER_MIN_BYTES, type DiskGeometry, type GptHeader } from './gpt-header.ts';
import { deriveBackupHeader, type GptTable } from './gpt-table.ts';
import { writeGptTable } from './gpt-writer.ts';
import { openFsDisk } from './fs-disk.ts';
import { randomGuid } from './guid.ts';
import { encodeProtectiveMbr } from './protective-mbr.ts';
import { USR_PARTITION_TYPE_GUID, type Slot } from './slot-model.ts';

export const PARTITION_TYPE = {
  efiSystem: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  biosBoot: '21686148-6449-6e6f-744e-656564454649',
  usr: USR_PARTITION_TYPE_GUID,
  /** Container Linux resizable root (sgdisk code 8501). */
  root: '3884dd41-8582-4404-b9a8-e9b84f2df50e',
} as const;

const MIB = 1024 * 1024;

export interface PartitionSpec {
  partition: number;
  label: string;
  typeGuid: string;
  sizeBytes: number;
  /** The whole 64-bit attribute field (default 0). */
  attributes?: bigint;
  uuid?: string;
}

export interface DiskImageOptions {
  sectorSizeBytes?: 512 | 4096;
  /** Size of each USR slot (default 16 MiB). */
  usrSizeBytes?: number;
  efiSizeBytes?: number;
  biosBootSizeBytes?: number;
  rootSizeBytes?: number;
  /** Replace the default layout entirely. */
  partitions?: PartitionSpec[];
  /** Total size; default: the partitions plus 1 MiB at each end. Must hold them. */
  sizeBytes?: number;
  entryCount?: number;
  entrySizeBytes?: number;
  diskGuid?: string;
  /** Replace an existing regular file (never anything else). */
  overwrite?: boolean;
}

export interface DiskImage {
  path: string;
  sizeBytes: number;
  sectorSizeBytes: number;
  diskGuid: string;
  partitions: Slot[];
}

/** Flatcar's layout with the given sizes; USR-A is the good, booted slot. */
export function defaultLayout(options: DiskImageOptions = {}): PartitionSpec[] {
  const usr = options.usrSizeBytes ?? 16 * MIB;
  const good = encodeBootAttributes(0n, { priority: 1, tries: 0, successful: true });
  return [
    { partition: 1, label: 'EFI-SYSTEM', typeGuid: PARTITION_TYPE.efiSystem, sizeBytes: options.efiSizeBytes ?? 2 * MIB },
    { partition: 2, label: 'BIOS-BOOT', typeGuid: PARTITION_TYPE.biosBoot, sizeBytes: options.biosBootSizeBytes ?? MIB },
    { partition: 3, label: 'USR-A', typeGuid: PARTITION_TYPE.usr, sizeBytes: usr, attributes: good },
    { partition: 4, label: 'USR-B', typeGuid: PARTITION_TYPE.usr, sizeBytes: usr },
    { partition: 9, label: 'ROOT', typeGuid: PARTITION_TYPE.root, sizeBytes: options.rootSizeBytes ?? 4 * MIB },
  ];
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Creates the image file at `path` and returns its layout. */
export async function createDiskImage(path: string, options: DiskImageOptions = {}): Promise<DiskImage> {
  const ss = options.sectorSizeBytes ?? 512;
  const entryCount = options.entryCount ?? 128;
  const entrySizeBytes = options.entrySizeBytes ?? 128;
  const specs = [...(options.partitions ?? defaultLayout(options))].sort((a, b) => a.partition - b.partition);
  const entriesSectors = Math.ceil((entryCount * entrySizeBytes) / ss);
  const alignSectors = MIB / ss;

  // Lay the partitions out in partition order, each aligned to 1 MiB.
  let lba = alignUp(2 + entriesSectors, alignSectors);
  const placed = specs.map((spec) => {
    if (spec.partition < 1 || spec.partition > entryCount)
      throw new UpdateEngineError('ERR_USAGE', `Partition ${spec.partition} does not fit ${entryCount} entries`);
    const sectors = alignUp(spec.sizeBytes, ss) / ss;
    const firstLba = lba;
    lba = alignUp(firstLba + sectors, alignSectors);
    return { ...spec, uuid: spec.uuid ?? randomGuid(), attributes: spec.attributes ?? 0n, firstLba, lastLba: firstLba + sectors - 1 };
  });
  const minBytes = (lba + alignSectors) * ss;
  const sizeBytes = options.sizeBytes ?? minBytes;
  if (sizeBytes < minBytes || sizeBytes % ss !== 0) {
    throw new UpdateEngineError('ERR_USAGE', `Disk image size ${sizeBytes} is too small for its partitions (at least ${minBytes} bytes, a multiple of ${ss})`);
  }
  const geometry: DiskGeometry = { sectorSizeBytes: ss, totalSectors: sizeBytes / ss };

  const entries = Buffer.alloc(entriesSectors * ss);
  for (const p of placed) encodeGptEntry(entries, { entryCount, entrySizeBytes }, p);
  const diskGuid = options.diskGuid ?? randomGuid();
  const primarySector = encodeGptHeader(
    {
      revision: 0x00010000,
      headerSizeBytes: GPT_HEADER_MIN_BYTES,
      myLba: 1,
      alternateLba: geometry.totalSectors - 1,
      firstUsableLba: 2 + entriesSectors,
      lastUsableLba: geometry.totalSectors - 2 - entriesSectors,
      diskGuid,
      entriesLba: 2,
      entryCount,
      entrySizeBytes,
      entriesCrc32: computeEntriesCrc32(entries, { entryCount, entrySizeBytes }),
    },
    ss,
  );
  const checked = checkGptHeader(primarySector, 1, geometry);
  if ('reason' in checked) throw new UpdateEngineError('ERR_INTERNAL', `Built an invalid GPT header: ${checked.reason}`);
  const primary: GptHeader = checked.header;
  const table: GptTable = { geometry, primary, backup: deriveBackupHeader(primary, geometry), entries, source: 'primary', problems: [] };

  const existing = await stat(path).catch(() => undefined);
  if (existing && (!existing.isFile() || !options.overwrite)) {
    throw new UpdateEngineError('ERR_GPT_IO', `Cannot create disk image "${path}": it exists${existing.isFile() ? '' : ' and is not a regular file'}`);
  }
  try {
    const fh = await open(path, options.overwrite ? 'w' : 'wx');
    try {
      await fh.truncate(sizeBytes);
      await fh.write(encodeProtectiveMbr(geometry.totalSectors), 0, 512, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new UpdateEngineError('ERR_GPT_IO', `Cannot create disk image "${path}": ${(e as Error).message}`, { cause: e });
  }
  const disk = await openFsDisk(path, { writable: true, sectorSizeBytes: ss });
  try {
    await writeGptTable(disk, table);
  } finally {
    await disk.close();
  }
  const partitions = placed.map((p) => ({
    partition: p.partition,
    label: p.label,
    typeGuid: p.typeGuid,
    uuid: p.uuid.toLowerCase(),
    ...decodeBootAttributes(p.attributes),
    firstLba: p.firstLba,
    lastLba: p.lastLba,
    byteOffset: p.firstLba * ss,
    byteLength: (p.lastLba - p.firstLba + 1) * ss,
  }));
  return { path, sizeBytes, sectorSizeBytes: ss, diskGuid, partitions };
}
