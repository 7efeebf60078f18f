// The block slot pool: shared memory, holds and releases, waiting when all slots are in use.

import { describe, expect, it } from 'vitest';
import { BlockSlots } from '../../src/payload/block-slots.ts';

describe('BlockSlots', () => {
  it('hands out shared memory and reuses a slot only after its last hold is released', async () => {
    const slots = new BlockSlots(2, 1024);
    const a = await slots.acquire();
    const b = await slots.acquire();
    expect(a.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(slots.busy).toBe(2);
    let third: unknown;
    const waiting = slots.acquire().then((s) => (third = s));
    a.hold();
    a.release();
    await Promise.resolve();
    expect(third).toBeUndefined();
    a.release();
    await waiting;
    expect(third).toBe(a);
    b.release();
    expect(slots.busy).toBe(1);
  });

  it('refuses a release without a hold', async () => {
    const slot = await new BlockSlots(1, 16).acquire();
    slot.release();
    expect(() => slot.release()).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
  });
});
