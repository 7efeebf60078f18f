// Reads that bypass the page cache (O_DIRECT), so that what comes back is what the device holds and
// not the copy the kernel kept from our own writes: the apply's read-back uses it (issue 17). O_DIRECT
// wants the file offset, the length and the memory address aligned to the device's logical block size.
// Node does not show addresses, so the reader allocates one buffer with some slack and, when a read is
// refused (EINVAL), tries the offsets in it until a direct read of that same place succeeds, and keeps
// that offset. (Only a place with data on the device says anything: ext4 answers a direct read of a
// hole without checking the alignment, so probing before anything was written could pick a wrong
// one.) File systems without O_DIRECT (tmpfs before Linux 6.6) refuse the open: then there is no reader.

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

/**
 * Opens `path` for direct reads of the window [baseOffset, ...) in reads of up to `maxLength` bytes; undefined when the file system refuses O_DIRECT.
 * `wrap` (fault-injection tests) may put a proxy around the opened handle.
 */
export async function openDeviceReader(
  path: string,
  baseOffsetBytes: number,
  maxLength: number,
  description: string,
  wrap: (fh: FileHandle) => FileHandle = (fh) => fh,
): Promise<DeviceReader | undefined> {
  if (baseOffsetBytes % 512 !== 0) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (e) {
    if (errno(e) === 'EINVAL' || errno(e) === 'EOPNOTSUPP') return undefined;
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open "${description}" for reading back`);
  }
  const capacity = Math.ceil(maxLength / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT + DIRECT_IO_ALIGNMENT;
  return new DirectReader(wrap(fh), Buffer.allocUnsafeSlow(capacity + DIRECT_IO_ALIGNMENT), capacity, baseOffsetBytes, description);
}

class DirectReader implements DeviceReader {
  /** Where the aligned part of `memory` starts (found on the first refused read). */
  private at = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly memory: Buffer,
    private readonly capacity: number,
    private readonly baseOffsetBytes: number,
    private readonly description: string,
  ) {}

  private get buffer(): Buffer {
    return this.memory.subarray(this.at, this.at + this.capacity);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const start = this.baseOffsetBytes + offset;
    const from = Math.floor(start / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    const to = Math.ceil((start + length) / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    let done = 0;
    let probed = false;
    while (done < to - from) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(this.buffer, done, to - from - done, from + done));
      } catch (e) {
        if (errno(e) === 'EINVAL' && !probed && (await this.findAlignment(from + done))) {
          probed = true;
          continue;
        }
        // A disk that cannot be read is a device problem, not a bad image (as PositionalFileTarget.readInto).
        throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot read back "${this.description}" at offset ${offset}`);
      }
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    const skip = start - from;
    return this.buffer.subarray(skip, skip + Math.max(0, Math.min(length, done - skip)));
  }

  /** Tries the offsets of the memory with a direct read at `position` (aligned, with data); true once one is accepted. */
  private async findAlignment(position: number): Promise<boolean> {
    for (let at = 0; at < DIRECT_IO_ALIGNMENT; at += ADDRESS_STEP) {
      try {
        await this.fh.read(this.memory, at, DIRECT_IO_ALIGNMENT, position);
      } catch (e) {
        if (errno(e) === 'EINVAL') continue;
        throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot read back "${this.description}"`);
      }
      this.at = at;
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
