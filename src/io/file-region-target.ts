// FileRegionTarget: a WriteTarget over a byte range of a file (a partition inside a disk image, or a
// plain image file). Writes beyond the region are refused; bytes outside it are never touched.

import { UpdateEngineError } from '../errors.ts';
import { PositionalFileTarget } from './positional-file-target.ts';

export class FileRegionTarget extends PositionalFileTarget {
  readonly description: string;
  readonly sizeBytes: number;

  constructor(
    path: string,
    readonly offsetBytes: number,
    lengthBytes: number,
  ) {
    super(path, offsetBytes);
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || !Number.isSafeInteger(lengthBytes) || lengthBytes < 0) {
      throw new UpdateEngineError('ERR_INTERNAL', `Invalid file region of "${path}": offset ${offsetBytes}, length ${lengthBytes}`);
    }
    this.sizeBytes = lengthBytes;
    this.description = `${path} [+${offsetBytes}, ${lengthBytes} bytes]`;
  }

  protected openFlags(): string {
    return 'r+';
  }
}
