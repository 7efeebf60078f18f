// A byte-rate limit as a stream stage (DOWNLOAD_BPS on the network side): each chunk is passed on
// only once it is within the rate, and the write callback waits for it, so nothing piles up inside
// the stage and the upstream (the HTTP socket) is simply read more slowly.

import { Transform, type TransformCallback } from 'node:stream';
import type { Clock } from '../platform/clock.ts';
import { latenessAllowanceBytes, TokenBucket } from './token-bucket.ts';

export interface PacingTransformOptions {
  bytesPerSecond: number;
  clock?: Clock;
  /** Large chunks are passed on in slices of at most this many bytes (default: 1/20 s worth, 4 KiB to 1 MiB). */
  sliceBytes?: number;
  /** Bytes that may go ahead of the rate (default: 25 ms worth, to absorb late timers; see token-bucket.ts). */
  burstBytes?: number;
  /** Share one bucket between several stages (e.g. all downloads of one update). */
  bucket?: TokenBucket;
}

/** The default slice: small enough for a smooth rate, large enough to keep the overhead low. */
export function defaultSliceBytes(bytesPerSecond: number): number {
  return Math.min(1 << 20, Math.max(4096, Math.floor(bytesPerSecond / 20)));
}

/** A Transform that passes bytes through unchanged at no more than `bytesPerSecond`. */
export function createPacingTransform(options: PacingTransformOptions): Transform {
  const bucket =
    options.bucket ??
    new TokenBucket({
      bytesPerSecond: options.bytesPerSecond,
      burstBytes: options.burstBytes ?? latenessAllowanceBytes(options.bytesPerSecond),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  const sliceBytes = options.sliceBytes ?? defaultSliceBytes(bucket.bytesPerSecond);
  const aborter = new AbortController();
  return new Transform({
    // Small buffers on both sides: the pacing, not a queue, decides how fast bytes flow.
    writableHighWaterMark: 16 * 1024,
    readableHighWaterMark: 16 * 1024,
    transform(this: Transform, chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      void (async () => {
        for (let at = 0; at < chunk.byteLength; at += sliceBytes) {
          const slice = chunk.subarray(at, Math.min(chunk.byteLength, at + sliceBytes));
          await bucket.take(slice.byteLength, aborter.signal);
          this.push(slice);
        }
      })().then(() => callback(), (e: unknown) => callback(e as Error));
    },
    destroy(error: Error | null, callback: (error: Error | null) => void) {
      aborter.abort(error ?? new Error('Pacing stage destroyed'));
      callback(error);
    },
  });
}
