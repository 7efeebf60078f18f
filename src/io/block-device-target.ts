// BlockDeviceTarget: a WriteTarget over a whole block device or a partition node (/dev/vda4,
// /dev/loop3p4). Its size comes from sysfs, else from reading towards the end. It is opened with
// O_EXCL, which Linux refuses for a device in use (mounted, or held by device-mapper/md).

import { constants } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { DEFAULT_SYS_ROOT, probeSizeByReading, splitDevT, sysfsSizeBytes } from './block-device.ts';
import { PositionalFileTarget } from './positional-file-target.ts';

export interface BlockDeviceProbeOptions {
  /** Where sysfs is mounted (default /sys); a directory without the device falls back to reading. */
  sysRoot?: string;
}

export class BlockDeviceTarget extends PositionalFileTarget {
  readonly description: string;
  readonly sizeBytes: number;

  /** A target of `sizeBytes` (use probe() to measure it). */
  constructor(path: string, sizeBytes: number) {
    super(path, 0);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new UpdateEngineError('ERR_INTERNAL', `Invalid size ${sizeBytes} for block device "${path}"`);
    }
    this.sizeBytes = sizeBytes;
    this.description = path;
  }

  /** Checks that `path` is a block device and measures it. */
  static async probe(path: string, options: BlockDeviceProbeOptions = {}): Promise<BlockDeviceTarget> {
    return new BlockDeviceTarget(path, await blockDeviceSizeBytes(path, options));
  }

  protected openFlags(): number {
    return constants.O_RDWR | constants.O_EXCL;
  }

  override async open(): Promise<void> {
    try {
      await super.open();
    } catch (e) {
      const errno = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (errno === 'EBUSY') {
        throw new UpdateEngineError('ERR_INSTALL_DEVICE', `Cannot open write target "${this.path}": it is in use (mounted?)`, { cause: e });
      }
      throw e;
    }
  }
}

/** The size of a block device in bytes: sysfs first, then by reading towards the end. */
export async function blockDeviceSizeBytes(path: string, options: BlockDeviceProbeOptions = {}): Promise<number> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (e) {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open write target "${path}"`);
  }
  if (!st.isBlockDevice()) throw new UpdateEngineError('ERR_INSTALL_DEVICE', `Write target "${path}" is not a block device`);
  const { major, minor } = splitDevT(st.rdev);
  const fromSysfs = await sysfsSizeBytes(major, minor, options.sysRoot ?? DEFAULT_SYS_ROOT);
  if (fromSysfs !== undefined) return fromSysfs;
  try {
    return await probeSizeByReading(path);
  } catch (e) {
    throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot measure block device "${path}"`);
  }
}
