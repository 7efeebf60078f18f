// ThrottledWriteTarget: wraps a WriteTarget so that its writes are paced by a token bucket (waiting
// before each slice, never buffering) and/or synced as they go (BackgroundSyncer), which a cgroup v1
// throttle needs to see the bytes. What the write throttle hands to the apply (src/io/write-throttle.ts).

import { defaultSliceBytes, type TokenBucket } from './token-bucket.ts';
import { BackgroundSyncer } from './background-syncer.ts';
import type { DeviceReader } from './device-reader.ts';
import { readIntoBuffer, totalBytes, writeChunks, type WriteTarget } from './write-target.ts';

export interface ThrottledWriteTargetOptions {
  /** Pace the writes with this bucket (the token-bucket mechanism). */
  bucket?: TokenBucket;
  /** Slices of at most this many bytes are paced one by one (default 1/20 s worth at the bucket's rate). */
  sliceBytes?: number;
  /** Sync in the background every this many bytes (0 or undefined: only when the caller syncs). */
  syncEveryBytes?: number;
  /** Writers wait while more than this many bytes are unsynced (default 4x syncEveryBytes). */
  maxUnsyncedBytes?: number;
  /** Aborts a write waiting for the bucket. */
  signal?: AbortSignal | undefined;
}

export class ThrottledWriteTarget implements WriteTarget {
  private readonly syncer: BackgroundSyncer | undefined;
  private readonly sliceBytes: number;
  /** Takes from the bucket one after another, each when the previous one ended (see writeAll). */
  private pacing: Promise<void> = Promise.resolve();

  constructor(
    readonly inner: WriteTarget,
    private readonly options: ThrottledWriteTargetOptions = {},
  ) {
    const every = options.syncEveryBytes ?? 0;
    this.syncer =
      every > 0
        ? new BackgroundSyncer(() => inner.sync(), {
            syncEveryBytes: every,
            ...(options.maxUnsyncedBytes ? { maxUnsyncedBytes: options.maxUnsyncedBytes } : {}),
          })
        : undefined;
    this.sliceBytes = options.sliceBytes ?? (options.bucket ? defaultSliceBytes(options.bucket.bytesPerSecond) : Number.MAX_SAFE_INTEGER);
  }

  get description(): string {
    return this.inner.description;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  /** Background syncs started so far (0 without syncEveryBytes). */
  get syncCount(): number {
    return this.syncer?.syncCount ?? 0;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    await this.writeAll([data], offset);
  }

  async writev(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    await this.writeAll(chunks, offset);
  }

  private async writeAll(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    const bucket = this.options.bucket;
    if (!bucket) {
      await writeChunks(this.inner, chunks, offset);
      await this.syncer?.written(totalBytes(chunks));
      return;
    }
    let at = offset;
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.byteLength; i += this.sliceBytes) {
        const slice = chunk.subarray(i, Math.min(chunk.byteLength, i + this.sliceBytes));
        // Concurrent writers queue here, and a slice reserves its time only when the one before it
        // was released: a late wake-up (a busy event loop) then costs time instead of releasing
        // several queued slices at once above the rate.
        const turn = this.pacing.then(() => bucket.take(slice.byteLength, this.options.signal));
        this.pacing = turn.catch(() => {});
        await turn;
        await this.inner.write(slice, at);
        at += slice.byteLength;
        await this.syncer?.written(slice.byteLength);
      }
    }
  }

  async sync(): Promise<void> {
    if (this.syncer) await this.syncer.flush();
    else await this.inner.sync();
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }

  readInto(buffer: Uint8Array, offset: number): Promise<number> {
    return readIntoBuffer(this.inner, buffer, offset);
  }

  async openDeviceReader(maxLength: number): Promise<DeviceReader | undefined> {
    return this.inner.openDeviceReader?.(maxLength);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
