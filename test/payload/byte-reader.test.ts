// ByteReader: exact reads across chunk boundaries, copies, the hook for returned bytes,
// truncation, resume jumps, aborts, and that consumed chunks do not stay reachable.

import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { ByteReader } from '../../src/payload/byte-reader.ts';
import { collectGarbage } from './gc.ts';

const chunks = () => [Buffer.from('hello '), Buffer.from('wor'), Buffer.from('ld!'), Buffer.from('')];

describe('ByteReader', () => {
  it('reads across chunks, copies, and counts offset and bytes', async () => {
    const returned: string[] = [];
    const r = new ByteReader(Readable.from(chunks()), { onReturned: (b) => void returned.push(b.toString()) });
    const first = await r.read(4, 'x');
    expect(first.toString()).toBe('hell');
    const dest = new Uint8Array(6);
    await r.readInto(dest, 6, 'x');
    expect(Buffer.from(dest).toString()).toBe('o worl');
    expect(returned).toEqual(['hell']); // readInto's bytes are the caller's business
    expect((await r.readUpTo(100)).toString()).toBe('d!');
    expect(r.offset).toBe(12);
    expect(await r.atEnd()).toBe(true);
    expect(returned).toEqual(['hell', 'd!']);
    expect(r.bytesRead).toBe(12);
  });

  it('hands the hook the very buffer it returns, whole, even when small', async () => {
    let hooked: Buffer | undefined;
    const r = new ByteReader(Readable.from(chunks()), { onReturned: (b) => (hooked = b) });
    const out = await r.read(9, 'x');
    expect(hooked).toBe(out);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(9); // its own memory: a hash worker may take a copy without the rest of a pool
  });

  it('says where the stream ended and what was being read', async () => {
    const r = new ByteReader(Readable.from(chunks()));
    await r.read(10, 'x');
    await expect(r.read(5, 'block 3')).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Payload is truncated: it ends at offset 12 inside block 3 (3 more bytes expected)',
    });
  });

  it('moves the offset on a jump without counting bytes', async () => {
    const r = new ByteReader(Readable.from(chunks()));
    await r.read(6, 'x');
    r.jumpTo(1000);
    await r.read(3, 'x');
    expect([r.offset, r.bytesRead]).toEqual([1003, 9]);
  });

  it('returns from a read on abort even when the stream never answers', async () => {
    const stuck = Readable.from(
      (async function* () {
        yield Buffer.from('abc');
        await new Promise(() => undefined);
      })(),
    );
    const controller = new AbortController();
    const r = new ByteReader(stuck, { signal: controller.signal });
    await r.read(3, 'x');
    const pending = r.read(1, 'x');
    controller.abort(new Error('SIGTERM'));
    await expect(pending).rejects.toThrow('SIGTERM');
    await expect(r.read(1, 'x')).rejects.toThrow('SIGTERM');
    await r.cancel();
  });

  it('passes stream errors through', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('reset'));
      },
    });
    await expect(new ByteReader(failing).read(1, 'x')).rejects.toThrow('reset');
  });

  it('keeps no consumed chunk reachable while a signal is watched (a gigabyte must not pile up)', async () => {
    const refs: Array<WeakRef<Buffer>> = [];
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 40; i++) {
          const chunk = Buffer.alloc(64 * 1024, i);
          refs.push(new WeakRef(chunk));
          yield chunk;
        }
      })(),
    );
    const r = new ByteReader(source, { signal: new AbortController().signal });
    const slot = new Uint8Array(64 * 1024);
    for (let i = 0; i < 40; i++) await r.readInto(slot, slot.byteLength, `block ${i}`);
    expect(await r.atEnd()).toBe(true);
    await tick(); // WeakRef targets are kept until the end of the job that created them
    collectGarbage();
    await tick();
    const alive = refs.filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBeLessThanOrEqual(2);
  });
});
