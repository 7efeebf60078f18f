// The WriteTarget port: where an image is written (a block device, or a region of a file).
// Writes are positional; the caller syncs; read() reads back what was written (for verification).

export interface WriteTarget {
  /** For messages and logs, e.g. `/dev/vda4` or `disk.img [+2097152, 1073741824 bytes]`. */
  readonly description: string;
  /** Capacity in bytes: nothing is written at or beyond this offset. */
  readonly sizeBytes: number;
  /** Opens the target for reading and writing. */
  open(): Promise<void>;
  /** Writes all of `data` at `offset` (relative to the start of the target). */
  write(data: Uint8Array, offset: number): Promise<void>;
  /** Makes everything written so far durable (fdatasync). */
  sync(): Promise<void>;
  /** Reads `length` bytes at `offset` into a new buffer (fewer only at the end of the target). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}
