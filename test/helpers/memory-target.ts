// An in-memory WriteTarget for the io tests: records every write and sync, can hold writes or syncs
// until the test releases them (a "slow disk"), and can fail on demand.

import type { WriteTarget } from '../../src/io/write-target.ts';

export interface RecordedOp {
  kind: 'write' | 'writev' | 'sync';
  offset?: number;
  bytes?: number;
  /** Bytes completed (written) when the op started (for syncs: what they cover). */
  writtenBefore: number;
}

/** A promise and its resolver. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class MemoryTarget implements WriteTarget {
  readonly description = 'memory';
  readonly data: Buffer;
  readonly ops: RecordedOp[] = [];
  writtenBytes = 0;
  inFlightWrites = 0;
  maxInFlightWrites = 0;
  /** When set, each write waits for this gate (replace it to hold the next ones). */
  writeGate: Promise<void> | undefined;
  /** When set, each sync waits for this gate. */
  syncGate: Promise<void> | undefined;
  /** Throw this from the write at or after this offset. */
  failAtOffset: { offset: number; error: Error } | undefined;
  syncError: Error | undefined;

  constructor(readonly sizeBytes: number) {
    this.data = Buffer.alloc(sizeBytes);
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async write(data: Uint8Array, offset: number): Promise<void> {
    await this.doWrite('write', [data], offset);
  }

  async writev(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    await this.doWrite('writev', chunks, offset);
  }

  private async doWrite(kind: 'write' | 'writev', chunks: readonly Uint8Array[], offset: number): Promise<void> {
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    this.ops.push({ kind, offset, bytes, writtenBefore: this.writtenBytes });
    this.inFlightWrites++;
    this.maxInFlightWrites = Math.max(this.maxInFlightWrites, this.inFlightWrites);
    try {
      if (this.writeGate) await this.writeGate;
      if (this.failAtOffset && offset + bytes > this.failAtOffset.offset) throw this.failAtOffset.error;
      if (offset + bytes > this.sizeBytes) throw new Error(`write past the end at ${offset}`);
      let at = offset;
      for (const c of chunks) {
        this.data.set(c, at);
        at += c.byteLength;
      }
      this.writtenBytes += bytes;
    } finally {
      this.inFlightWrites--;
    }
  }

  async sync(): Promise<void> {
    this.ops.push({ kind: 'sync', writtenBefore: this.writtenBytes });
    if (this.syncGate) await this.syncGate;
    if (this.syncError) throw this.syncError;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return Buffer.from(this.data.subarray(offset, Math.min(this.sizeBytes, offset + length)));
  }

  get syncs(): number {
    return this.ops.filter((o) => o.kind === 'sync').length;
  }
}
