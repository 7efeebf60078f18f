// collectGarbage: one full collection gives back a large buffer that was let go after living long
// enough to reach the old generation, without putting a `gc` on the global object.

import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/platform/collect-garbage.ts';

describe('collectGarbage', () => {
  it('frees an unreachable large buffer at once', async () => {
    const hadGlobalGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
    let big: Buffer | undefined = Buffer.alloc(48 * 1024 * 1024, 1);
    // Outlive a few scavenges, as the chunk index does while the header is read and the slot sampled.
    for (let i = 0; i < 20; i++) {
      const junk = Array.from({ length: 20_000 }, (_, k) => ({ k }));
      await new Promise((r) => setImmediate(r));
      expect(junk.length).toBe(20_000);
    }
    expect(big.byteLength).toBe(48 * 1024 * 1024);
    big = undefined;
    const before = process.memoryUsage().arrayBuffers;
    collectGarbage();
    const after = process.memoryUsage().arrayBuffers;
    expect(before - after).toBeGreaterThanOrEqual(48 * 1024 * 1024);
    expect(typeof (globalThis as { gc?: unknown }).gc === 'function').toBe(hadGlobalGc);
  });
});
