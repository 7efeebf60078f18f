// Reads that bypass the page cache (O_DIRECT), so that what comes back is what the device holds and
// not the copy the kernel kept from our own writes: the apply's read-back uses it (issue 17). O_DIRECT
// wants the file offset, the length and the memory address aligned to the device's logical block size.
// Node does not show addresses, so the reader allocates one buffer with some slack and finds, once,
// the offset in it at which a direct read succeeds; every read goes through that buffer. File systems
// without O_DIRECT (tmpfs before Linux 6.6) refuse the open: then there is no device reader.

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { wrapError } from '../errors.ts';

/** File offsets and lengths are rounded to this (a multiple of every logical block size in use: 512, 4096). */
export const DIRECT_IO_ALIGNMENT = 4096;
/** Step between the buffer offsets tried (malloc returns 16-byte aligned memory). */
const ADDRESS_STEP = 16;

/** A read of the device's bytes, valid until the next read. */
export interface DeviceReader {
  /** `length` bytes at `offset` of the target as the device returns them (fewer only at its end): a view into the reader's buffer. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Opens `path` for direct reads of the window [baseOffset, ...) in reads of up to `maxLength` bytes; undefined when the file system refuses O_DIRECT. */
export async function openDeviceReader(path: string, baseOffsetBytes: number, maxLength: number, description: string): Promise<DeviceReader | undefined> {
  if (baseOffsetBytes % 512 !== 0) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (e) {
    if (errno(e) === 'EINVAL' || errno(e) === 'EOPNOTSUPP') return undefined;
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open "${description}" for reading back`);
  }
  const capacity = Math.ceil(maxLength / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT + DIRECT_IO_ALIGNMENT;
  const memory = Buffer.allocUnsafeSlow(capacity + DIRECT_IO_ALIGNMENT);
  const probeAt = Math.floor(baseOffsetBytes / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
  for (let at = 0; at < DIRECT_IO_ALIGNMENT; at += ADDRESS_STEP) {
    try {
      await fh.read(memory, at, DIRECT_IO_ALIGNMENT, probeAt);
    } catch (e) {
      if (errno(e) === 'EINVAL') continue;
      await fh.close();
      throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot read back "${description}"`);
    }
    return new DirectReader(fh, memory.subarray(at, at + capacity), baseOffsetBytes, description);
  }
  await fh.close();
  return undefined;
}

class DirectReader implements DeviceReader {
  constructor(
    private readonly fh: FileHandle,
    /** Aligned memory for the reads. */
    private readonly buffer: Buffer,
    private readonly baseOffsetBytes: number,
    private readonly description: string,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const start = this.baseOffsetBytes + offset;
    const from = Math.floor(start / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    const to = Math.ceil((start + length) / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    let done = 0;
    while (done < to - from) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(this.buffer, done, to - from - done, from + done));
      } catch (e) {
        // A disk that cannot be read is a device problem, not a bad image (as PositionalFileTarget.readInto).
        throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot read back "${this.description}" at offset ${offset}`);
      }
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    const skip = start - from;
    return this.buffer.subarray(skip, skip + Math.max(0, Math.min(length, done - skip)));
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
