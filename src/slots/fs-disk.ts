// FsDisk: the Disk port over node:fs, for image files and block devices. A block device's size and
// logical sector size come from sysfs (BLKSSZGET is not reachable from Node); an image file's
// sector size is given, or found where the GPT signature is (512, then 4096).

import { open, readFile, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { GPT_SIGNATURE } from './gpt-header.ts';
import { SECTOR_SIZES, type Disk } from './disk.ts';
import { lockDiskForWrite } from './gpt-lock.ts';

export interface OpenDiskOptions {
  /** Open for writing too (default: read only). */
  writable?: boolean;
  /** Force the sector size (image files); default: probed for files, sysfs for devices. */
  sectorSizeBytes?: number | undefined;
  /** Where sysfs lists block devices (tests inject a fake tree). */
  sysBlock?: string | undefined;
}

function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or device';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return err.message ?? String(e);
}

export class FsDisk implements Disk {
  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly kind: 'file' | 'block-device',
    readonly sizeBytes: number,
    readonly sectorSizeBytes: number,
  ) {}

  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const length = Math.max(0, Math.min(lengthBytes, this.sizeBytes - offsetBytes));
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(buf, done, length - done, offsetBytes + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw new UpdateEngineError('ERR_GPT_IO', `Cannot read disk "${this.path}" at byte ${offsetBytes + done}: ${reasonOf(e)}`, { cause: e });
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  async write(data: Uint8Array, offsetBytes: number): Promise<void> {
    let done = 0;
    try {
      while (done < data.byteLength) {
        const { bytesWritten } = await this.handle.write(data, done, data.byteLength - done, offsetBytes + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new UpdateEngineError('ERR_GPT_IO', `Cannot write disk "${this.path}" at byte ${offsetBytes + done}: ${reasonOf(e)}`, { cause: e });
    }
  }

  async sync(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (e) {
      throw new UpdateEngineError('ERR_GPT_IO', `Cannot sync disk "${this.path}": ${reasonOf(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readSysNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Size and logical sector size of a block device from sysfs (a partition's queue is its parent's). */
async function blockDeviceGeometry(devicePath: string, sysBlock: string): Promise<{ sizeBytes: number; sectorSizeBytes: number }> {
  const name = basename(await realpath(devicePath));
  const dir = join(sysBlock, name);
  const sectors512 = await readSysNumber(join(dir, 'size'));
  let sector = await readSysNumber(join(dir, 'queue', 'logical_block_size'));
  if (sector === undefined) {
    const parent = await realpath(dir).then(dirname, () => undefined);
    if (parent) sector = await readSysNumber(join(parent, 'queue', 'logical_block_size'));
  }
  if (sectors512 === undefined || sector === undefined) {
    throw new UpdateEngineError('ERR_GPT_IO', `Cannot find the size of block device "${devicePath}" in ${dir}`);
  }
  return { sizeBytes: sectors512 * 512, sectorSizeBytes: sector };
}

/** Finds an image file's sector size: where "EFI PART" is at LBA 1 or at the last LBA. */
async function probeSectorSize(handle: FileHandle, sizeBytes: number): Promise<number> {
  const signatureAt = async (offset: number): Promise<boolean> => {
    if (offset < 0 || offset + 8 > sizeBytes) return false;
    const buf = Buffer.alloc(8);
    const { bytesRead } = await handle.read(buf, 0, 8, offset);
    return bytesRead === 8 && buf.toString('latin1') === GPT_SIGNATURE;
  };
  for (const size of SECTOR_SIZES) if (await signatureAt(size)) return size;
  for (const size of SECTOR_SIZES) if (await signatureAt(Math.floor(sizeBytes / size) * size - size)) return size;
  return 512;
}

/** Opens an image file or a block device as a Disk. */
export async function openFsDisk(path: string, options: OpenDiskOptions = {}): Promise<FsDisk> {
  if (options.sectorSizeBytes !== undefined && !(SECTOR_SIZES as readonly number[]).includes(options.sectorSizeBytes)) {
    throw new UpdateEngineError('ERR_USAGE', `Sector size ${options.sectorSizeBytes} is not supported (512 or 4096)`);
  }
  let handle: FileHandle;
  try {
    handle = await open(path, options.writable ? 'r+' : 'r');
  } catch (e) {
    throw new UpdateEngineError('ERR_GPT_IO', `Cannot open disk "${path}": ${reasonOf(e)}`, { cause: e });
  }
  try {
    // Writers serialize on flock(2) of the disk (src/slots/gpt-lock.ts); released by close().
    if (options.writable) await lockDiskForWrite(handle, path);
    const st = await handle.stat();
    if (st.isBlockDevice()) {
      const geometry = await blockDeviceGeometry(path, options.sysBlock ?? '/sys/class/block');
      return new FsDisk(path, handle, 'block-device', geometry.sizeBytes, options.sectorSizeBytes ?? geometry.sectorSizeBytes);
    }
    if (!st.isFile()) throw new UpdateEngineError('ERR_GPT_IO', `Cannot use "${path}" as a disk: it is neither an image file nor a block device`);
    const sector = options.sectorSizeBytes ?? (await probeSectorSize(handle, st.size));
    return new FsDisk(path, handle, 'file', st.size, sector);
  } catch (e) {
    await handle.close();
    throw e;
  }
}
