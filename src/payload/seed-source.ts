// The seed of a delta apply: read-only bytes the machine already has (the booted slot), where chunks
// of the new image may be found. Reads go through the IO_READ_BPS token bucket when one is set, so
// that looking for local chunks never loads the disk more than the limit allows.

import { open, type FileHandle } from 'node:fs/promises';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { latenessAllowanceBytes, TokenBucket } from '../io/token-bucket.ts';
import type { Clock } from '../platform/clock.ts';

/** Read-only bytes to copy chunks from. The apply never writes to it and never closes it. */
export interface SeedSource {
  readonly description: string;
  readonly sizeBytes: number;
  /** Fills `buffer` from `offset` (fewer bytes only at the end); resolves with the bytes read. */
  read(buffer: Uint8Array, offset: number): Promise<number>;
}

/** A seed its opener closes when the apply is over. */
export interface ClosableSeed extends SeedSource {
  close(): Promise<void>;
}

/** A byte range of a file, opened read-only: a partition inside a disk image, a partition node, an image file. */
export class FileSeedSource implements ClosableSeed {
  readonly description: string;
  private handle: Promise<FileHandle> | undefined;

  constructor(
    private readonly path: string,
    private readonly offsetBytes: number,
    readonly sizeBytes: number,
  ) {
    this.description = `${path} [+${offsetBytes}, ${sizeBytes} bytes] (read-only)`;
  }

  private opened(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'r').catch((e: unknown) => {
      this.handle = undefined;
      throw wrapError(e, 'ERR_INSTALL_DEVICE', `Cannot open the seed "${this.path}" for reading`);
    });
    return this.handle;
  }

  async read(buffer: Uint8Array, offset: number): Promise<number> {
    const want = Math.max(0, Math.min(buffer.byteLength, this.sizeBytes - offset));
    const fh = await this.opened();
    let done = 0;
    while (done < want) {
      const { bytesRead } = await fh.read(buffer, done, want - done, this.offsetBytes + offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await (await handle)?.close();
  }
}

/** Seed reads paced by IO_READ_BPS (0 = not paced). */
export class PacedSeed {
  private readonly bucket: TokenBucket | undefined;

  constructor(
    readonly seed: SeedSource,
    bytesPerSecond: number,
    clock?: Clock,
  ) {
    this.bucket = bytesPerSecond > 0 ? new TokenBucket({ bytesPerSecond, burstBytes: latenessAllowanceBytes(bytesPerSecond), clock }) : undefined;
  }

  /** Reads exactly `buffer.byteLength` bytes at `offset`; ERR_INSTALL_DEVICE when the seed ends first. */
  async readExactly(buffer: Uint8Array, offset: number, signal: AbortSignal): Promise<void> {
    await this.bucket?.take(buffer.byteLength, signal);
    const n = await this.seed.read(buffer, offset);
    if (n !== buffer.byteLength) {
      throw new UpdateEngineError('ERR_INSTALL_DEVICE', `The seed "${this.seed.description}" ended at ${offset + n}, inside a chunk it was indexed with`);
    }
  }

  /** Reads up to `buffer.byteLength` bytes at `offset` (fewer at the end of the seed). */
  async readUpTo(buffer: Uint8Array, offset: number, signal: AbortSignal): Promise<number> {
    await this.bucket?.take(buffer.byteLength, signal);
    return this.seed.read(buffer, offset);
  }
}
