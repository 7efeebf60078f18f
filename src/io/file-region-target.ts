// FileRegionTarget: a WriteTarget over a byte range of a file (a partition inside a disk image).

import { open, type FileHandle } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import type { WriteTarget } from './write-target.ts';

export class FileRegionTarget implements WriteTarget {
  readonly description: string;
  readonly sizeBytes: number;
  private handle: FileHandle | undefined;

  constructor(
    readonly path: string,
    readonly offsetBytes: number,
    lengthBytes: number,
  ) {
    this.sizeBytes = lengthBytes;
    this.description = `${path} [+${offsetBytes}, ${lengthBytes} bytes]`;
  }

  async open(): Promise<void> {
    try {
      this.handle = await open(this.path, 'r+');
    } catch (e) {
      throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open write target "${this.path}"`);
    }
  }

  private fh(): FileHandle {
    if (!this.handle) throw new UpdateEngineError('ERR_INTERNAL', `Write target "${this.description}" is not open`);
    return this.handle;
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    if (offset < 0 || offset + data.byteLength > this.sizeBytes) {
      throw new UpdateEngineError('ERR_PAYLOAD_TOO_LARGE', `Write of ${data.byteLength} bytes at ${offset} is outside "${this.description}"`);
    }
    let done = 0;
    while (done < data.byteLength) {
      let n: number;
      try {
        ({ bytesWritten: n } = await this.fh().write(data, done, data.byteLength - done, this.offsetBytes + offset + done));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'ERR_INSTALL_DEVICE_SPACE' : 'ERR_DOWNLOAD_WRITE';
        throw wrapError(e, code, `Cannot write to "${this.description}" at offset ${offset + done}`);
      }
      done += n;
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh().datasync();
    } catch (e) {
      throw wrapError(e, 'ERR_DOWNLOAD_WRITE', `Cannot sync "${this.description}"`);
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.sizeBytes - offset));
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh().read(buf, done, len - done, this.offsetBytes + offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === len ? buf : buf.subarray(0, done);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}
