// TargetWriteStream: a Writable that writes a byte stream sequentially into a WriteTarget, the last
// stage of the apply pipeline. Large aligned writes gathered from slices (pwritev, no concatenation),
// several in flight, a background sync every few MiB, and every queue bounded in bytes: when the
// target is slow or throttled the write callback waits, so upstream (the HTTP socket) stops being read.

import { Writable } from 'node:stream';
import { UpdateEngineError } from '../errors.ts';
import { BackgroundSyncer } from './background-syncer.ts';
import { writeChunks, type WriteTarget } from './write-target.ts';

const MiB = 1024 * 1024;

export interface TargetWriteStreamOptions {
  /** Where the first byte goes in the target (default 0). */
  startOffsetBytes?: number;
  /** Write size; writes end on multiples of it (relative to the target's start). Default 1 MiB. */
  chunkBytes?: number;
  /** Bytes accepted and not yet written (the gathering batch plus writes in flight). Default 8 MiB. */
  maxBufferedBytes?: number;
  /** A background sync every this many bytes; 0 = only at the end. Default 8 MiB. */
  syncEveryBytes?: number;
  /** Writes wait while more bytes than this are not yet synced. Default 4x syncEveryBytes. */
  maxUnsyncedBytes?: number;
  /** Sync once more when the stream ends (default true). */
  syncAtEnd?: boolean;
}

export class TargetWriteStream extends Writable {
  readonly startOffsetBytes: number;
  readonly chunkBytes: number;
  readonly maxBufferedBytes: number;
  private readonly syncer: BackgroundSyncer | undefined;
  private readonly syncAtEnd: boolean;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  /** Where the gathering batch starts in the target. */
  private batchOffset: number;
  private accepted = 0;
  private written = 0;
  private inFlight = new Set<Promise<void>>();
  private waitingCallback: ((error?: Error | null) => void) | undefined;
  private failure: Error | undefined;
  private peakBuffered = 0;

  constructor(
    readonly target: WriteTarget,
    options: TargetWriteStreamOptions = {},
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.startOffsetBytes = options.startOffsetBytes ?? 0;
    this.batchOffset = this.startOffsetBytes;
    this.chunkBytes = Math.max(4096, options.chunkBytes ?? MiB);
    this.maxBufferedBytes = Math.max(this.chunkBytes, options.maxBufferedBytes ?? 8 * MiB);
    const every = options.syncEveryBytes ?? 8 * MiB;
    this.syncer =
      every > 0
        ? new BackgroundSyncer(() => target.sync(), { syncEveryBytes: every, ...(options.maxUnsyncedBytes ? { maxUnsyncedBytes: options.maxUnsyncedBytes } : {}) })
        : undefined;
    this.syncAtEnd = options.syncAtEnd ?? true;
  }

  /** Bytes received from upstream. */
  get bytesAccepted(): number {
    return this.accepted;
  }
  /** Bytes the target has taken (written, maybe not yet durable). */
  get bytesWritten(): number {
    return this.written;
  }
  /** Bytes held by this stage right now: received, not yet written. */
  get bytesBuffered(): number {
    return this.accepted - this.written;
  }
  /** The most bytes this stage ever held at once. */
  get peakBufferedBytes(): number {
    return this.peakBuffered;
  }
  /** Background syncs so far. */
  get syncCount(): number {
    return this.syncer?.syncCount ?? 0;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) return callback(this.failure);
    const at = this.startOffsetBytes + this.accepted;
    if (at + chunk.byteLength > this.target.sizeBytes) {
      return callback(
        new UpdateEngineError(
          'ERR_PAYLOAD_TOO_LARGE',
          `The image does not fit "${this.target.description}" (${this.target.sizeBytes} bytes): ${at + chunk.byteLength - this.startOffsetBytes} bytes or more from offset ${this.startOffsetBytes}`,
        ),
      );
    }
    let rest: Uint8Array = chunk;
    while (rest.byteLength > 0) {
      const pos = this.batchOffset + this.batchBytes;
      const room = (Math.floor(pos / this.chunkBytes) + 1) * this.chunkBytes - pos;
      const piece = rest.byteLength <= room ? rest : rest.subarray(0, room);
      this.batch.push(piece);
      this.batchBytes += piece.byteLength;
      rest = rest.subarray(piece.byteLength);
      if (piece.byteLength === room) this.dispatch();
    }
    this.accepted += chunk.byteLength;
    this.peakBuffered = Math.max(this.peakBuffered, this.bytesBuffered);
    if (this.bytesBuffered >= this.maxBufferedBytes) this.waitingCallback = callback;
    else callback();
  }

  /** Hands the gathered batch to the target (not awaited: several writes stay in flight). */
  private dispatch(): void {
    if (this.batchBytes === 0) return;
    const chunks = this.batch;
    const bytes = this.batchBytes;
    const offset = this.batchOffset;
    this.batch = [];
    this.batchOffset += bytes;
    this.batchBytes = 0;
    const op = (async () => {
      await writeChunks(this.target, chunks, offset);
      await this.syncer?.written(bytes);
      this.written += bytes;
    })().then(
      () => {
        this.inFlight.delete(op);
        this.release();
      },
      (error: unknown) => {
        this.inFlight.delete(op);
        this.fail(error);
      },
    );
    this.inFlight.add(op);
  }

  private release(): void {
    const cb = this.waitingCallback;
    if (cb && (this.failure || this.bytesBuffered < this.maxBufferedBytes)) {
      this.waitingCallback = undefined;
      cb(this.failure);
    }
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    const cb = this.waitingCallback;
    this.waitingCallback = undefined;
    if (cb) cb(this.failure);
    else this.destroy(this.failure);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.dispatch();
    void (async () => {
      while (this.inFlight.size > 0) await Promise.all(this.inFlight);
      if (this.failure) throw this.failure;
      if (this.syncAtEnd) {
        if (this.syncer) await this.syncer.flush();
        else await this.target.sync();
      }
    })().then(() => callback(), (e: unknown) => callback(e as Error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Let writes already handed to the target settle, so that nothing touches it after the stream is gone.
    void Promise.allSettled([...this.inFlight]).then(() => callback(error));
  }
}
