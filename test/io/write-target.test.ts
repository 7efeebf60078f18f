// The WriteTarget port's helpers: writeChunks (writev when the target has it, else one write per
// chunk back to back) and readIntoBuffer (readInto when the target has it, else read() and a copy).

import { describe, expect, it } from 'vitest';
import { readIntoBuffer, totalBytes, writeChunks, type WriteTarget } from '../../src/io/write-target.ts';

/** A target over memory that records which calls it got; readInto and writev only when asked for. */
function memoryTarget(options: { readInto?: boolean; writev?: boolean }) {
  const data = Buffer.alloc(64);
  const calls: string[] = [];
  const target: WriteTarget = {
    description: 'memory',
    sizeBytes: data.length,
    async open() {},
    async close() {},
    async sync() {},
    async write(bytes, offset) {
      calls.push(`write ${offset} ${bytes.byteLength}`);
      data.set(bytes, offset);
    },
    async read(offset, length) {
      calls.push(`read ${offset} ${length}`);
      return Buffer.from(data.subarray(offset, Math.min(data.length, offset + length)));
    },
    ...(options.writev && {
      async writev(chunks: readonly Uint8Array[], offset: number) {
        calls.push(`writev ${offset} ${chunks.length}`);
        data.set(Buffer.concat(chunks), offset);
      },
    }),
    ...(options.readInto && {
      async readInto(buffer: Uint8Array, offset: number) {
        calls.push(`readInto ${offset} ${buffer.byteLength}`);
        const n = Math.max(0, Math.min(buffer.byteLength, data.length - offset));
        buffer.set(data.subarray(offset, offset + n));
        return n;
      },
    }),
  };
  return { target, data, calls };
}

describe('writeChunks', () => {
  it('gathers the chunks into one writev when the target has it', async () => {
    const { target, data, calls } = memoryTarget({ writev: true });
    await writeChunks(target, [Buffer.from('ab'), Buffer.from('cde')], 10);
    expect(calls).toEqual(['writev 10 2']);
    expect(data.subarray(10, 15).toString()).toBe('abcde');
  });

  it('writes chunk after chunk otherwise, and a single chunk with write()', async () => {
    const { target, data, calls } = memoryTarget({});
    await writeChunks(target, [Buffer.from('ab'), Buffer.from('cde')], 10);
    await writeChunks(target, [Buffer.from('z')], 0);
    expect(calls).toEqual(['write 10 2', 'write 12 3', 'write 0 1']);
    expect(data.subarray(10, 15).toString()).toBe('abcde');
    expect(totalBytes([Buffer.alloc(3), new Uint8Array(4)])).toBe(7);
  });
});

describe('readIntoBuffer', () => {
  it("uses the target's readInto when it has one", async () => {
    const { target, data, calls } = memoryTarget({ readInto: true });
    data.write('hello', 20);
    const buffer = Buffer.alloc(5);
    expect(await readIntoBuffer(target, buffer, 20)).toBe(5);
    expect(buffer.toString()).toBe('hello');
    expect(calls).toEqual(['readInto 20 5']);
  });

  it('falls back to read() and a copy, clipped at the end of the target', async () => {
    const { target, data, calls } = memoryTarget({});
    data.write('tail', 60);
    const buffer = Buffer.alloc(8, '.');
    expect(await readIntoBuffer(target, buffer, 60)).toBe(4);
    expect(buffer.toString()).toBe('tail....');
    expect(calls).toEqual(['read 60 8']);
  });
});
