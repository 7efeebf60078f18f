// The Disk port: positional reads and writes on the device or image file that holds the GPT, with
// its logical sector size. The GPT reader and writer use only this, so tests can wrap it.

export interface Disk {
  /** As given by the caller, for messages. */
  readonly path: string;
  /** Logical sector size: 512 or 4096 (what the kernel reports for a device). */
  readonly sectorSizeBytes: number;
  readonly sizeBytes: number;
  readonly kind: 'file' | 'block-device';
  /** Reads `lengthBytes` at `offsetBytes`; fewer bytes only where the disk ends. */
  read(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  /** Writes all of `data` at `offsetBytes`. */
  write(data: Uint8Array, offsetBytes: number): Promise<void>;
  /** Makes every write so far durable (fdatasync). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Sector sizes the GPT code accepts. */
export const SECTOR_SIZES = [512, 4096] as const;

export function totalSectors(disk: Pick<Disk, 'sizeBytes' | 'sectorSizeBytes'>): number {
  return Math.floor(disk.sizeBytes / disk.sectorSizeBytes);
}
