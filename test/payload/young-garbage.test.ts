// YoungGarbageCollector: a young-generation collection every N dropped bytes, which frees the memory
// of transport chunks that nothing references any more (checked with WeakRefs and a full collection).

import { describe, expect, it } from 'vitest';
import { setImmediate as tick } from 'node:timers/promises';
import { collectGarbage, YoungGarbageCollector } from '../../src/payload/young-garbage.ts';

describe('YoungGarbageCollector', () => {
  it('collects once every `everyBytes` of dropped chunks', () => {
    const garbage = new YoungGarbageCollector(1000);
    for (let i = 0; i < 9; i++) garbage.dropped(300);
    // 2700 bytes: collections after the 4th and the 8th chunk (1200 and 1200 bytes)
    expect(garbage.collections).toBe(2);
  });

  it('its young-generation collection frees the memory behind dropped chunks', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const garbage = new YoungGarbageCollector(8 * 1024 * 1024);
    for (let i = 0; i < 16; i++) {
      const chunk = Buffer.allocUnsafeSlow(1024 * 1024); // what a transport hands over: its own memory
      chunk.fill(i);
      garbage.dropped(chunk.byteLength);
    }
    expect(garbage.collections).toBe(2);
    // The last collection came after the 16th chunk: all 16 MiB are unreachable and freed (sweeping may trail a little).
    await expect.poll(() => process.memoryUsage().arrayBuffers - before, { timeout: 2000 }).toBeLessThan(2 * 1024 * 1024);
  });

  it('a full collection clears what only WeakRefs point at', async () => {
    const refs: Array<WeakRef<Buffer>> = [];
    (() => {
      for (let i = 0; i < 20; i++) refs.push(new WeakRef(Buffer.alloc(64 * 1024, i)));
    })();
    await tick();
    expect(collectGarbage('major')).toBe(true);
    await tick();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });
});
