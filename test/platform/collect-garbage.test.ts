// collectGarbage: one full collection gives back a large buffer that was let go after living long
// enough to reach the old generation, without putting a `gc` on the global object.
//
// V8 frees the backing stores of dead ArrayBuffers on a background thread after the mark-compact
// (its array buffer sweeper), so the count can fall a little after collectGarbage returns: on a busy
// machine it had not fallen yet when read at once (CI, stop 24). The test waits for it, up to a few
// seconds. Without the collection nothing frees the buffer in that time: the test allocates almost
// nothing while it waits, so no collection of V8's own comes due.

import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/platform/collect-garbage.ts';

const BIG = 48 * 1024 * 1024;

async function arrayBuffersBelow(limit: number, waitMs: number): Promise<number> {
  const until = Date.now() + waitMs;
  let now = process.memoryUsage().arrayBuffers;
  while (now > limit && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    now = process.memoryUsage().arrayBuffers;
  }
  return now;
}

describe('collectGarbage', () => {
  it("frees an unreachable large buffer without waiting for one of V8's own collections", async () => {
    const hadGlobalGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
    let big: Buffer | undefined = Buffer.alloc(BIG, 1);
    // Outlive a few scavenges, as the chunk index does while the header is read and the slot sampled.
    for (let i = 0; i < 20; i++) {
      const junk = Array.from({ length: 20_000 }, (_, k) => ({ k }));
      await new Promise((r) => setImmediate(r));
      expect(junk.length).toBe(20_000);
    }
    expect(big.byteLength).toBe(BIG);
    big = undefined;
    const before = process.memoryUsage().arrayBuffers;
    expect(before).toBeGreaterThanOrEqual(BIG);
    collectGarbage();
    const after = await arrayBuffersBelow(before - BIG, 5000);
    expect(before - after).toBeGreaterThanOrEqual(BIG);
    expect(typeof (globalThis as { gc?: unknown }).gc === 'function').toBe(hadGlobalGc);
  });
});
