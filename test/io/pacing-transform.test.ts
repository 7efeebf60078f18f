// The DOWNLOAD_BPS stage: bytes come out unchanged and only as fast as the rate (fake clock), and
// the stage holds its input instead of queueing it.

import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createPacingTransform, defaultSliceBytes } from '../../src/io/pacing-transform.ts';
import { FakeClock, flushMicrotasks } from '../fakes/fake-clock.ts';

function collector() {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      bytes += chunk.byteLength;
      cb();
    },
  });
  return { sink, chunks, bytes: () => bytes };
}

describe('createPacingTransform', () => {
  it('passes bytes through unchanged, no faster than the rate', async () => {
    const clock = new FakeClock();
    const data = randomBytes(10_000);
    const out = collector();
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 2500) {
          pulled += 2500;
          yield data.subarray(at, at + 2500);
        }
      })(),
    );
    const pacer = createPacingTransform({ bytesPerSecond: 1000, sliceBytes: 500, clock });
    const done = pipeline(source, pacer, out.sink);
    await flushMicrotasks();
    expect(out.bytes()).toBe(0);
    for (let second = 1; second <= 10; second++) {
      await clock.advance(1000);
      expect(out.bytes()).toBe(second * 1000);
      // The stage does not read ahead: at most one input chunk beyond what went out, plus stream buffers.
      expect(pulled - out.bytes()).toBeLessThanOrEqual(2500 + 3 * 2500);
    }
    await done;
    expect(Buffer.concat(out.chunks).equals(data)).toBe(true);
    expect(Math.max(...out.chunks.map((c) => c.byteLength))).toBeLessThanOrEqual(500);
  });

  it('shares one bucket between stages when given one', async () => {
    const clock = new FakeClock();
    const { TokenBucket } = await import('../../src/io/token-bucket.ts');
    const bucket = new TokenBucket({ bytesPerSecond: 1000, clock });
    const a = collector();
    const b = collector();
    const pa = pipeline(Readable.from([Buffer.alloc(1000)]), createPacingTransform({ bytesPerSecond: 1, bucket, sliceBytes: 100 }), a.sink);
    const pb = pipeline(Readable.from([Buffer.alloc(1000)]), createPacingTransform({ bytesPerSecond: 1, bucket, sliceBytes: 100 }), b.sink);
    await clock.advance(1000);
    expect(a.bytes() + b.bytes()).toBe(1000); // together, not 1000 each
    await clock.advance(1000);
    await Promise.all([pa, pb]);
  });

  it('chooses slices of 1/20 s, between 4 KiB and 1 MiB', () => {
    expect(defaultSliceBytes(40 * 1024 * 1024)).toBe(1 << 20);
    expect(defaultSliceBytes(10 * 1024 * 1024)).toBe(524_288);
    expect(defaultSliceBytes(1000)).toBe(4096);
  });

  it('stops waiting when destroyed', async () => {
    const clock = new FakeClock();
    const pacer = createPacingTransform({ bytesPerSecond: 10, clock });
    const done = pipeline(Readable.from([Buffer.alloc(1000)]), pacer, collector().sink);
    await flushMicrotasks();
    pacer.destroy(new Error('aborted by test'));
    await expect(done).rejects.toThrow('aborted by test');
    expect(clock.pendingSleeps).toBe(0);
  });
});
