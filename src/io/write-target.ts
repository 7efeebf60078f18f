// The WriteTarget port: where an image is written (a block device, or a region of a file).
// Writes are positional; the caller syncs; read() reads back what was written (for verification).

import type { DeviceReader } from './device-reader.ts';

export interface WriteTarget {
  /** For messages and logs, e.g. `/dev/vda4` or `disk.img [+2097152, 1073741824 bytes]`. */
  readonly description: string;
  /** Capacity in bytes: nothing is written at or beyond this offset. */
  readonly sizeBytes: number;
  /** Opens the target for reading and writing. */
  open(): Promise<void>;
  /** Writes all of `data` at `offset` (relative to the start of the target). */
  write(data: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional: writes the chunks back to back starting at `offset`, in one gathered write (pwritev),
   * so that callers can hand over slices without concatenating them. Same errors as write().
   */
  writev?(chunks: readonly Uint8Array[], offset: number): Promise<void>;
  /** Makes everything written so far durable (fdatasync). */
  sync(): Promise<void>;
  /** Reads `length` bytes at `offset` into a new buffer (fewer only at the end of the target). */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: reads `buffer.byteLength` bytes at `offset` into `buffer` (a caller's reused buffer, so
   * that a read-back allocates nothing); resolves to the bytes read, fewer only at the end of the target.
   */
  readInto?(buffer: Uint8Array, offset: number): Promise<number>;
  /**
   * Optional: a reader past the page cache (O_DIRECT) for reads of up to `maxLength` bytes, so that a
   * read-back sees what the device holds; undefined when the file system has no direct I/O (tmpfs before Linux 6.6).
   */
  openDeviceReader?(maxLength: number): Promise<DeviceReader | undefined>;
  close(): Promise<void>;
}

/** Reads into `buffer` at `offset`, with the target's readInto when it has one (else read() and a copy). */
export async function readIntoBuffer(target: WriteTarget, buffer: Uint8Array, offset: number): Promise<number> {
  if (target.readInto) return target.readInto(buffer, offset);
  const bytes = await target.read(offset, buffer.byteLength);
  buffer.set(bytes.subarray(0, Math.min(bytes.byteLength, buffer.byteLength)));
  return Math.min(bytes.byteLength, buffer.byteLength);
}

/** Writes chunks back to back at `offset`, with the target's writev when it has one. */
export async function writeChunks(target: WriteTarget, chunks: readonly Uint8Array[], offset: number): Promise<void> {
  if (chunks.length === 1) return target.write(chunks[0] as Uint8Array, offset);
  if (target.writev) return target.writev(chunks, offset);
  let at = offset;
  for (const chunk of chunks) {
    await target.write(chunk, at);
    at += chunk.byteLength;
  }
}

/** The total length of some chunks in bytes. */
export function totalBytes(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  return n;
}
