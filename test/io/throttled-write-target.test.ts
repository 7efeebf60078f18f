// ThrottledWriteTarget: token-bucket pacing on a fake clock (a slice is written only once earned),
// syncing as it goes, pass-through of everything else.

import { describe, expect, it } from 'vitest';
import { ThrottledWriteTarget } from '../../src/io/throttled-write-target.ts';
import { TokenBucket } from '../../src/io/token-bucket.ts';
import { FakeClock, flushMicrotasks } from '../fakes/fake-clock.ts';
import { MemoryTarget } from '../helpers/memory-target.ts';

describe('ThrottledWriteTarget', () => {
  it('writes each slice only when the bucket has earned it', async () => {
    const clock = new FakeClock();
    const inner = new MemoryTarget(1 << 20);
    const bucket = new TokenBucket({ bytesPerSecond: 1000, clock });
    const t = new ThrottledWriteTarget(inner, { bucket, sliceBytes: 100 });
    const data = Buffer.alloc(350, 7);
    const done = t.write(data, 10);
    await flushMicrotasks();
    expect(inner.writtenBytes).toBe(0); // the first 100 bytes are earned after 100 ms
    await clock.advance(100);
    expect(inner.writtenBytes).toBe(100);
    await clock.advance(200);
    expect(inner.writtenBytes).toBe(300);
    await clock.advance(50);
    await done;
    expect(inner.writtenBytes).toBe(350);
    expect(inner.ops.map((o) => [o.offset, o.bytes])).toEqual([
      [10, 100],
      [110, 100],
      [210, 100],
      [310, 50],
    ]);
    expect(inner.data.subarray(10, 360).every((b) => b === 7)).toBe(true);
  });

  it('paces writev chunks too, in order and without gaps', async () => {
    const clock = new FakeClock();
    const inner = new MemoryTarget(4096);
    const t = new ThrottledWriteTarget(inner, { bucket: new TokenBucket({ bytesPerSecond: 100, clock }), sliceBytes: 64 });
    const p = t.writev([Buffer.from('abc'), Buffer.from('defgh')], 0);
    await clock.advance(80);
    await p;
    expect(inner.data.subarray(0, 8).toString()).toBe('abcdefgh');
    expect(clock.sleepLog.reduce((a, b) => a + b, 0)).toBeCloseTo(80, 6);
  });

  it('syncs as it goes every syncEveryBytes, and sync() covers the rest', async () => {
    const inner = new MemoryTarget(1 << 20);
    const t = new ThrottledWriteTarget(inner, { syncEveryBytes: 4096 });
    for (let i = 0; i < 10; i++) await t.write(Buffer.alloc(1024, i), i * 1024);
    await flushMicrotasks();
    expect(inner.syncs).toBe(2); // after 4 KiB and 8 KiB
    expect(t.syncCount).toBe(2);
    await t.sync();
    expect(inner.syncs).toBe(3);
    const lastSync = inner.ops.filter((o) => o.kind === 'sync').at(-1);
    expect(lastSync?.writtenBefore).toBe(10 * 1024);
  });

  it('without a bucket or syncs it passes calls straight through', async () => {
    const inner = new MemoryTarget(100);
    const t = new ThrottledWriteTarget(inner);
    expect(t.sizeBytes).toBe(100);
    expect(t.description).toBe('memory');
    await t.write(Buffer.from('xyz'), 5);
    await t.sync();
    expect(inner.ops.map((o) => o.kind)).toEqual(['write', 'sync']);
    expect((await t.read(5, 3)).toString()).toBe('xyz');
    const into = Buffer.alloc(3);
    expect(await t.readInto(into, 5)).toBe(3); // the inner target has no readInto: read() and a copy
    expect(into.toString()).toBe('xyz');
  });

  it('serializes concurrent writers, so a late wake-up costs time instead of releasing a burst', async () => {
    // A clock whose time the test moves without waking anyone, as a stalled event loop would see it.
    let now = 0;
    const sleeps: { ms: number; wake: () => void }[] = [];
    const clock = { now: () => now, monotonicMs: () => now, sleep: (ms: number) => new Promise<void>((wake) => sleeps.push({ ms, wake })) };
    const inner = new MemoryTarget(4096);
    const t = new ThrottledWriteTarget(inner, { bucket: new TokenBucket({ bytesPerSecond: 1000, clock }), sliceBytes: 100 });
    const writes = [0, 1, 2, 3].map((i) => t.write(Buffer.alloc(100, i), i * 100));
    await flushMicrotasks();
    expect(sleeps.map((s) => s.ms)).toEqual([100]); // only the first writer has reserved time
    now = 400; // the process was stalled for 300 ms past the first deadline
    sleeps.shift()?.wake();
    await flushMicrotasks();
    expect(inner.writtenBytes).toBe(100); // one slice out, not four
    expect(sleeps.map((s) => s.ms)).toEqual([100]); // the next one starts counting from now
    for (let i = 0; i < 3; i++) {
      now += 100;
      sleeps.shift()?.wake();
      await flushMicrotasks();
    }
    await Promise.all(writes);
    expect(inner.writtenBytes).toBe(400);
  });

  it('stops a paced write when its signal aborts', async () => {
    const clock = new FakeClock();
    const inner = new MemoryTarget(4096);
    const ac = new AbortController();
    const t = new ThrottledWriteTarget(inner, { bucket: new TokenBucket({ bytesPerSecond: 10, clock }), signal: ac.signal });
    const p = t.write(Buffer.alloc(100), 0);
    ac.abort(new Error('shutdown'));
    await expect(p).rejects.toThrow('shutdown');
    expect(inner.writtenBytes).toBe(0);
  });
});
