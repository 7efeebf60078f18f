// The shared part of the file-backed write targets: positional writes (pwrite/pwritev) into a window
// [baseOffset, baseOffset + size) of one open file or device, fdatasync, read-back, and error codes.

import { open, type FileHandle } from 'node:fs/promises';
import { UpdateEngineError, wrapError, type ErrorCode } from '../errors.ts';
import { openDeviceReader, type DeviceReader } from './device-reader.ts';
import { totalBytes, type WriteTarget } from './write-target.ts';

/** The error code for a failed write or sync: out of space, or a write error (EIO and the rest). */
export function writeErrorCode(e: unknown): ErrorCode {
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  return errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG' ? 'ERR_INSTALL_DEVICE_SPACE' : 'ERR_DOWNLOAD_WRITE';
}

export abstract class PositionalFileTarget implements WriteTarget {
  abstract readonly description: string;
  abstract readonly sizeBytes: number;
  private handle: FileHandle | undefined;

  protected constructor(
    readonly path: string,
    /** Where the target starts inside the file, in bytes. */
    protected readonly baseOffsetBytes: number,
  ) {}

  /** open(2) flags for this kind of target. */
  protected abstract openFlags(): string | number;

  async open(): Promise<void> {
    if (this.handle) return;
    try {
      this.handle = await open(this.path, this.openFlags());
    } catch (e) {
      throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open write target "${this.path}"`);
    }
  }

  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  protected fh(): FileHandle {
    if (!this.handle) throw new UpdateEngineError('ERR_INTERNAL', `Write target "${this.description}" is not open`);
    return this.handle;
  }

  private checkBounds(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.sizeBytes) {
      throw new UpdateEngineError(
        'ERR_PAYLOAD_TOO_LARGE',
        `Write of ${length} bytes at offset ${offset} does not fit "${this.description}" (${this.sizeBytes} bytes)`,
      );
    }
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    this.checkBounds(offset, data.byteLength);
    const fh = this.fh();
    let done = 0;
    while (done < data.byteLength) {
      try {
        const { bytesWritten } = await fh.write(data, done, data.byteLength - done, this.baseOffsetBytes + offset + done);
        done += bytesWritten;
      } catch (e) {
        throw wrapError(e, writeErrorCode(e), `Cannot write to "${this.description}" at offset ${offset + done}`);
      }
    }
  }

  async writev(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    const length = totalBytes(chunks);
    this.checkBounds(offset, length);
    const fh = this.fh();
    const pending: Uint8Array[] = chunks.filter((c) => c.byteLength > 0);
    let done = 0;
    while (pending.length > 0) {
      let n: number;
      try {
        ({ bytesWritten: n } = await fh.writev(pending, this.baseOffsetBytes + offset + done));
      } catch (e) {
        throw wrapError(e, writeErrorCode(e), `Cannot write to "${this.description}" at offset ${offset + done}`);
      }
      done += n;
      // A short write: drop what went out, keep the rest (slicing, never copying).
      while (n > 0 && pending.length > 0) {
        const head = pending[0] as Uint8Array;
        if (head.byteLength <= n) {
          n -= head.byteLength;
          pending.shift();
        } else {
          pending[0] = head.subarray(n);
          n = 0;
        }
      }
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh().datasync();
    } catch (e) {
      throw wrapError(e, writeErrorCode(e), `Cannot sync "${this.description}"`);
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.sizeBytes - offset));
    const buf = Buffer.allocUnsafe(len);
    const done = await this.readInto(buf, offset);
    return done === len ? buf : buf.subarray(0, done);
  }

  async readInto(buffer: Uint8Array, offset: number): Promise<number> {
    const len = Math.max(0, Math.min(buffer.byteLength, this.sizeBytes - offset));
    const fh = this.fh();
    let done = 0;
    while (done < len) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buffer, done, len - done, this.baseOffsetBytes + offset + done));
      } catch (e) {
        // A disk that cannot be read is a device problem, not a bad image: the version is not blamed
        // (ERR_IMAGE_VERIFICATION would remember it as failed) and the resume point stays usable.
        throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot read back "${this.description}" at offset ${offset + done}`);
      }
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  openDeviceReader(maxLength: number): Promise<DeviceReader | undefined> {
    return openDeviceReader(this.path, this.baseOffsetBytes, maxLength, this.description);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}
