// ByteReader: exact reads across chunk boundaries, copies, consumed-chunk hook, truncation, resume jumps.

import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { ByteReader } from '../../src/payload/byte-reader.ts';

const chunks = () => [Buffer.from('hello '), Buffer.from('wor'), Buffer.from('ld!'), Buffer.from('')];

describe('ByteReader', () => {
  it('reads across chunks, copies, and counts offset and bytes', async () => {
    const seen: string[] = [];
    const r = new ByteReader(Readable.from(chunks()), (c) => void seen.push(c.toString()));
    const first = await r.read(4, 'x');
    expect(first.toString()).toBe('hell');
    const dest = new Uint8Array(6);
    await r.readInto(dest, 6, 'x');
    expect(Buffer.from(dest).toString()).toBe('o worl');
    expect(seen).toEqual(['hello ', 'wor']);
    expect((await r.readUpTo(100)).toString()).toBe('d!');
    expect(r.offset).toBe(12);
    expect(await r.atEnd()).toBe(true);
    expect(seen).toEqual(['hello ', 'wor', 'ld!']);
    expect(r.bytesRead).toBe(12);
  });

  it('says where the stream ended and what was being read', async () => {
    const r = new ByteReader(Readable.from(chunks()));
    await r.read(10, 'x');
    await expect(r.read(5, 'block 3')).rejects.toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: 'Payload is truncated: it ends at offset 12 inside block 3 (3 more bytes expected)' });
  });

  it('moves the offset on a jump without counting bytes', async () => {
    const r = new ByteReader(Readable.from(chunks()));
    await r.read(6, 'x');
    r.jumpTo(1000);
    await r.read(3, 'x');
    expect([r.offset, r.bytesRead]).toEqual([1003, 9]);
  });

  it('waits for the hook (backpressure)', async () => {
    const order: string[] = [];
    const r = new ByteReader(Readable.from(chunks()), async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`hooked ${c.toString()}`);
    });
    await r.read(6, 'x');
    await r.read(1, 'x');
    order.push('read after first chunk');
    expect(order).toEqual(['hooked hello ', 'read after first chunk']);
  });

  it('returns from a read on abort even when the stream never answers', async () => {
    const stuck = Readable.from((async function* () {
      yield Buffer.from('abc');
      await new Promise(() => undefined);
    })());
    const controller = new AbortController();
    const r = new ByteReader(stuck, undefined, controller.signal);
    await r.read(3, 'x');
    const pending = r.read(1, 'x');
    controller.abort(new Error('SIGTERM'));
    await expect(pending).rejects.toThrow('SIGTERM');
    await r.cancel();
  });

  it('passes stream errors through', async () => {
    const failing = new Readable({ read() { this.destroy(new Error('reset')); } });
    await expect(new ByteReader(failing).read(1, 'x')).rejects.toThrow('reset');
  });
});
