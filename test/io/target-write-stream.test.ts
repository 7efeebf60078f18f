// TargetWriteStream: byte-exact round trips with large aligned gathered writes, several writes in
// flight, syncs as it goes, bounds, errors from the target, and backpressure measured in bytes.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TargetWriteStream } from '../../src/io/target-write-stream.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { flushMicrotasks } from '../fakes/fake-clock.ts';
import { deferred, MemoryTarget } from './helpers/memory-target.ts';

/** Splits data into chunks of the given sizes (cycled), as slices. */
function* chunksOf(data: Buffer, sizes: number[]): Generator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.byteLength; i++) {
    const n = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + n);
    at += n;
  }
}

describe('TargetWriteStream', () => {
  it('writes any chunking byte for byte, in aligned writes of at most chunkBytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
        async (start, length, sizes) => {
          const chunkBytes = 16 * 1024;
          const data = randomBytes(length);
          const target = new MemoryTarget(start + length + 100);
          const stream = new TargetWriteStream(target, { startOffsetBytes: start, chunkBytes, maxBufferedBytes: 64 * 1024, syncEveryBytes: 50_000 });
          await pipeline(Readable.from(chunksOf(data, sizes)), stream);
          expect(target.data.subarray(start, start + length).equals(data)).toBe(true);
          expect(target.data.subarray(0, start).every((b) => b === 0)).toBe(true);
          const writes = target.ops.filter((o) => o.kind !== 'sync');
          for (const w of writes.slice(0, -1)) {
            const end = (w.offset as number) + (w.bytes as number);
            expect(end % chunkBytes).toBe(0);
            expect(w.bytes).toBeLessThanOrEqual(chunkBytes);
          }
          expect(target.ops.at(-1)?.kind).toBe('sync');
          expect(target.ops.at(-1)?.writtenBefore).toBe(length);
          expect(stream.bytesWritten).toBe(length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps several writes in flight, bounded in bytes', async () => {
    const target = new MemoryTarget(8 << 20);
    const gate = deferred();
    target.writeGate = gate.promise;
    const stream = new TargetWriteStream(target, { chunkBytes: 64 * 1024, maxBufferedBytes: 512 * 1024, syncEveryBytes: 0 });
    const data = randomBytes(4 << 20);
    const done = pipeline(Readable.from(chunksOf(data, [32 * 1024])), stream);
    for (let i = 0; i < 50; i++) await flushMicrotasks();
    expect(target.maxInFlightWrites).toBe(8); // 512 KiB / 64 KiB, all held by the slow target
    expect(stream.bytesBuffered).toBeLessThanOrEqual(512 * 1024);
    target.writeGate = undefined;
    gate.resolve();
    await done;
    expect(target.data.subarray(0, data.length).equals(data)).toBe(true);
    expect(stream.peakBufferedBytes).toBeLessThanOrEqual(512 * 1024);
  });

  it('stops reading upstream while the target is stalled (bytes pulled stay bounded)', async () => {
    const target = new MemoryTarget(64 << 20);
    const gate = deferred();
    target.writeGate = gate.promise;
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        pulled += 64 * 1024;
        this.push(pulled > 64 << 20 ? null : Buffer.alloc(64 * 1024, 1));
      },
    });
    const stream = new TargetWriteStream(target, { maxBufferedBytes: 2 << 20, chunkBytes: 1 << 20 });
    const done = pipeline(source, stream);
    for (let i = 0; i < 100; i++) await flushMicrotasks(2);
    // Held: 2 MiB in this stage, plus the stream and source buffers (64 KiB each) and one chunk.
    expect(stream.bytesBuffered).toBeLessThanOrEqual(2 << 20);
    expect(pulled).toBeLessThanOrEqual((2 << 20) + 4 * 64 * 1024);
    expect(target.writtenBytes).toBe(0);
    target.writeGate = undefined;
    gate.resolve();
    await done;
    expect(target.writtenBytes).toBe(64 << 20);
  });

  it('refuses an image larger than the target before writing past its end', async () => {
    const target = new MemoryTarget(100_000);
    const stream = new TargetWriteStream(target, { startOffsetBytes: 1000, chunkBytes: 4096 });
    const err = await pipeline(Readable.from(chunksOf(randomBytes(120_000), [10_000])), stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateEngineError);
    expect((err as UpdateEngineError).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect((err as Error).message).toContain('"memory" (100000 bytes)');
    expect(target.ops.every((o) => o.kind === 'sync' || (o.offset as number) + (o.bytes as number) <= 100_000)).toBe(true);
  });

  it('fails the pipeline with the target error code, even while upstream is idle', async () => {
    const target = new MemoryTarget(1 << 20);
    target.failAtOffset = { offset: 200_000, error: new UpdateEngineError('ERR_INSTALL_DEVICE_SPACE', 'Cannot write to "memory" at offset 196608: ENOSPC') };
    const stream = new TargetWriteStream(target, { chunkBytes: 65_536 });
    const idle = new Readable({ read() {} });
    idle.push(Buffer.alloc(300_000));
    const err = await pipeline(idle, stream).catch((e: unknown) => e);
    expect((err as UpdateEngineError).code).toBe('ERR_INSTALL_DEVICE_SPACE');
    expect((err as Error).message).toContain('at offset 196608');
  });

  it('fails when a background sync fails', async () => {
    const target = new MemoryTarget(1 << 20);
    target.syncError = new UpdateEngineError('ERR_DOWNLOAD_WRITE', 'Cannot sync "memory": EIO');
    const stream = new TargetWriteStream(target, { chunkBytes: 4096, syncEveryBytes: 8192 });
    const err = await pipeline(Readable.from(chunksOf(randomBytes(100_000), [5000])), stream).catch((e: unknown) => e);
    expect((err as UpdateEngineError).code).toBe('ERR_DOWNLOAD_WRITE');
  });

  it('syncs as it goes, keeping unsynced bytes bounded, not only at the end', async () => {
    const target = new MemoryTarget(4 << 20);
    const stream = new TargetWriteStream(target, {
      chunkBytes: 64 * 1024,
      maxBufferedBytes: 128 * 1024,
      syncEveryBytes: 256 * 1024,
      maxUnsyncedBytes: 1 << 20,
    });
    const data = randomBytes(4 << 20);
    await pipeline(Readable.from(chunksOf(data, [100_000])), stream);
    const syncs = target.ops.filter((o) => o.kind === 'sync');
    // 4 MiB with at most 1 MiB (+ the writes in flight) unsynced: at least 4 syncs on the way.
    expect(syncs.length).toBeGreaterThanOrEqual(4);
    expect(syncs[0]?.writtenBefore).toBeLessThanOrEqual(256 * 1024 + 128 * 1024);
    let lastCover = 0;
    for (const op of target.ops) {
      if (op.kind === 'sync') lastCover = op.writtenBefore;
      else expect(op.writtenBefore - lastCover).toBeLessThanOrEqual((1 << 20) + 128 * 1024 + 256 * 1024);
    }
    expect(createHash('sha256').update(target.data).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe('TargetWriteStream into a real file region', () => {
  it('gathers slices into pwritev calls and lands every byte in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ue-io-tws-'));
    try {
      const path = join(dir, 'disk.img');
      const before = randomBytes(12 << 20);
      await writeFile(path, before);
      const target = new FileRegionTarget(path, 1 << 20, 10 << 20);
      await target.open();
      const data = randomBytes((8 << 20) + 12_345);
      await pipeline(Readable.from(chunksOf(data, [65_536, 1000, 300_000])), new TargetWriteStream(target, { startOffsetBytes: 4096 }));
      await target.close();
      const after = await readFile(path);
      const at = (1 << 20) + 4096;
      expect(after.subarray(at, at + data.length).equals(data)).toBe(true);
      expect(after.subarray(0, at).equals(before.subarray(0, at))).toBe(true);
      expect(after.subarray(at + data.length).equals(before.subarray(at + data.length))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TargetWriteStream behind a real HTTP download', () => {
  it('a stalled target stops the socket from being read: bytes in transit stay bounded while the server has more', async () => {
    const totalBytes = 512 << 20;
    const block = randomBytes(1 << 20);
    let sent = 0;
    let serverWaiting = false;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(totalBytes) });
      void (async () => {
        while (sent < totalBytes) {
          sent += block.length;
          if (!res.write(block)) {
            serverWaiting = true;
            await once(res, 'drain');
            serverWaiting = false;
          }
        }
        res.end();
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    // A slow disk: each write waits for a permit the test hands out; data is hashed in offset order.
    const permits: (() => void)[] = [];
    let received = 0;
    let completed = 0;
    const totalOf = (chunks: readonly Uint8Array[]) => chunks.reduce((n, c) => n + c.byteLength, 0);
    const hash = createHash('sha256');
    const slowTarget = {
      description: 'slow',
      sizeBytes: totalBytes,
      open: async () => {},
      close: async () => {},
      sync: async () => {},
      read: async () => Buffer.alloc(0),
      write: async (data: Uint8Array, offset: number) => slowTarget.writev([data], offset),
      writev: async (chunks: readonly Uint8Array[], offset: number) => {
        // Called in dispatch order, so offsets arrive in order even with several writes in flight.
        expect(offset).toBe(received);
        for (const c of chunks) {
          received += c.byteLength;
          hash.update(c);
        }
        await new Promise<void>((r) => permits.push(r));
        completed += totalOf(chunks);
      },
    };
    try {
      const res = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/`, resolve));
      const stream = new TargetWriteStream(slowTarget, { chunkBytes: 1 << 20, maxBufferedBytes: 8 << 20, syncEveryBytes: 0 });
      const done = pipeline(res, stream);
      const waitUntil = async (cond: () => boolean) => {
        for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
      };
      const maxTransit: number[] = [];
      for (let round = 0; round < 5; round++) {
        // Wait until the server is blocked on a full socket, then measure what sits between it and the disk.
        // (settled: the server has been blocked with the same count for 20 polls)
        let lastSent = -1;
        let stable = 0;
        await waitUntil(() => {
          stable = sent === lastSent && serverWaiting ? stable + 1 : 0;
          lastSent = sent;
          return stable >= 20;
        });
        expect(serverWaiting).toBe(true);
        // Everything sent and not yet on the disk: socket buffers, the response, this stage.
        maxTransit.push(sent - completed);
        expect(stream.bytesBuffered).toBeLessThanOrEqual((8 << 20) + 64 * 1024); // + one socket chunk
        expect(sent).toBeLessThan(totalBytes);
        // Let the disk take 16 writes (16 MiB), then stall again.
        for (let i = 0; i < 16; i++) {
          await waitUntil(() => permits.length > 0);
          permits.shift()?.();
        }
      }
      // Kernel socket buffers on both ends (a few MiB each) + this stage's 8 MiB + the response's 16 KiB.
      for (const bytes of maxTransit) expect(bytes).toBeLessThan(32 << 20);
      const release = setInterval(() => permits.splice(0).forEach((p) => p()), 1);
      await done;
      clearInterval(release);
      expect(received).toBe(totalBytes);
      const expected = createHash('sha256');
      for (let i = 0; i < totalBytes / block.length; i++) expected.update(block);
      expect(hash.digest('hex')).toBe(expected.digest('hex'));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
