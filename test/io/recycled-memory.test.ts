// Read buffers given back by their consumer are read into again; others are left alone.

import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { giveBack, RecycledMemory } from '../../src/io/recycled-memory.ts';
import { ByteReader } from '../../src/payload/byte-reader.ts';

describe('RecycledMemory', () => {
  it('hands out a buffer given back (through any view of it) again, keeping at most `keep`', () => {
    const memory = new RecycledMemory(1024, 1);
    const a = memory.take();
    const b = memory.take();
    expect(a.buffer).not.toBe(b.buffer);
    giveBack(a.subarray(10, 20));
    giveBack(a); // twice: no effect
    giveBack(b); // over `keep`: dropped
    giveBack(Buffer.alloc(5)); // not ours: no effect
    expect(memory.take().buffer).toBe(a.buffer);
    expect(memory.take().buffer).not.toBe(b.buffer);
  });

  it('the ByteReader gives each chunk back once it copied all of it out, not before', async () => {
    const memory = new RecycledMemory(16, 4);
    const first = memory.take().fill(1);
    const second = memory.take().fill(2);
    const reader = new ByteReader(Readable.from([first.subarray(0, 16), second.subarray(0, 8)]));
    const dest = Buffer.alloc(20);
    await reader.readInto(dest, 10, 'part');
    expect(memory.take().buffer).not.toBe(first.buffer); // still being read
    await reader.readInto(dest.subarray(10), 10, 'part');
    expect(memory.take().buffer).toBe(first.buffer);
    expect(dest.subarray(0, 16).every((b) => b === 1) && dest.subarray(16).every((b) => b === 2)).toBe(true);
  });
});
