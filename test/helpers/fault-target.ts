// Write targets for hardening tests: FaultInjectingTarget is the real FileRegionTarget whose file
// handle fails with EIO or ENOSPC at a chosen offset (so the target's own error mapping is tested),
// and ObservedTarget wraps any target to count the bytes written and to act after each write.

import { openDeviceReader, type DeviceReader } from '../../src/io/device-reader.ts';
import type { FileHandle } from 'node:fs/promises';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { totalBytes, writeChunks, type WriteTarget } from '../../src/io/write-target.ts';

export type FaultErrno = 'EIO' | 'ENOSPC';

/**
 * One fault. write: bytes [atOffset, untilOffset) cannot be written (a write reaching them writes up
 * to atOffset, a short write, and the next one fails, as a real disk does); read: reads touching
 * them fail; sync: fdatasync fails.
 */
export interface IoFault {
  errno: FaultErrno;
  op: 'write' | 'read' | 'sync';
  /** For write and read faults: the first bad target byte. */
  atOffset: number;
  /** The end of the bad range (target-relative; default: the end of the target, as when a disk is full). */
  untilOffset?: number;
}

const ERRNO: Record<FaultErrno, { errno: number; text: string }> = {
  EIO: { errno: -5, text: 'i/o error' },
  ENOSPC: { errno: -28, text: 'no space left on device' },
};

/** An error shaped like the ones node:fs rejects with (code, errno, syscall). */
export function errnoError(code: FaultErrno, syscall: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${ERRNO[code].text}, ${syscall}`);
  e.code = code;
  e.errno = ERRNO[code].errno;
  e.syscall = syscall;
  return e;
}

/** How long a failing write waits for the writes before the bad range (then it fails anyway). */
const EARLIER_WRITES_WAIT_MS = 5_000;

export class FaultInjectingTarget extends FileRegionTarget {
  /** How many times the fault fired. */
  faultsFired = 0;
  /** Bytes written below fault.atOffset so far. */
  private bytesBelowFault = 0;
  private waiters: Array<() => void> = [];

  constructor(
    path: string,
    offsetBytes: number,
    lengthBytes: number,
    readonly fault: IoFault,
  ) {
    super(path, offsetBytes, lengthBytes);
  }

  private noteWritten(start: number, length: number): void {
    this.bytesBelowFault += Math.max(0, Math.min(start + length, this.fault.atOffset) - start);
    if (this.bytesBelowFault < this.fault.atOffset) return;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * Fails like the disk would, once every byte before the bad range was written (a disk reports an
   * error for the request it fails, after completing the earlier ones): so the resume point is exact.
   */
  private async fire(syscall: string): Promise<never> {
    if (this.bytesBelowFault < this.fault.atOffset) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, EARLIER_WRITES_WAIT_MS).unref();
      });
    }
    this.faultsFired += 1;
    throw errnoError(this.fault.errno, syscall);
  }

  /** The apply's direct read-back (O_DIRECT) goes through the same failing handle as every other read. */
  override openDeviceReader(maxLength: number): Promise<DeviceReader | undefined> {
    return openDeviceReader(this.path, this.offsetBytes, maxLength, this.description, (fh) => this.failing(fh));
  }

  protected override fh(): FileHandle {
    return this.failing(super.fh());
  }

  /** The real handle, with write/writev/read/datasync replaced by ones that fail as `fault` says. */
  private failing(real: FileHandle): FileHandle {
    const { fault } = this;
    const base = this.offsetBytes;
    const until = fault.untilOffset ?? Number.POSITIVE_INFINITY;
    /** Bytes of a write of `length` at target offset `start` that may go out: all, up to the bad range, or none. */
    const room = (start: number, length: number): number => {
      if (start + length <= fault.atOffset || start >= until) return length;
      return Math.max(0, fault.atOffset - start);
    };
    return new Proxy(real, {
      get: (target, prop) => {
        if (prop === 'write' && fault.op === 'write') {
          return async (data: Uint8Array, offset = 0, length = data.byteLength - offset, position = 0) => {
            const n = room(position - base, length);
            if (n === 0 && length > 0) return this.fire('write');
            const result = await real.write(data, offset, n, position);
            this.noteWritten(position - base, result.bytesWritten);
            return result;
          };
        }
        if (prop === 'writev' && fault.op === 'write') {
          return async (buffers: Uint8Array[], position = 0) => {
            const length = totalBytes(buffers);
            const n = room(position - base, length);
            if (n === 0 && length > 0) return this.fire('writev');
            const result = n === length ? await real.writev(buffers, position) : await real.write(Buffer.concat(buffers).subarray(0, n), 0, n, position);
            this.noteWritten(position - base, result.bytesWritten);
            return result;
          };
        }
        if (prop === 'read' && fault.op === 'read') {
          return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
            const start = position - base;
            if (start < until && start + length > fault.atOffset) {
              this.faultsFired += 1;
              throw errnoError(fault.errno, 'read');
            }
            return real.read(buffer, offset, length, position);
          };
        }
        if (prop === 'datasync' && fault.op === 'sync') return () => this.fire('fdatasync');
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

/** Wraps a target: counts the bytes written and calls `afterWrite(totalBytes)` after each write. */
export class ObservedTarget implements WriteTarget {
  bytesWritten = 0;

  constructor(
    private readonly inner: WriteTarget,
    private readonly afterWrite: (bytesWritten: number) => void = () => undefined,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    await this.inner.write(data, offset);
    this.bytesWritten += data.byteLength;
    this.afterWrite(this.bytesWritten);
  }

  async writev(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    await writeChunks(this.inner, chunks, offset);
    this.bytesWritten += totalBytes(chunks);
    this.afterWrite(this.bytesWritten);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
