// Reads of the seed (the booted slot) under IO_READ_BPS: paced by a token bucket, on a fake clock;
// and the read-only file region a seed is.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSeedSource, PacedSeed, type SeedSource } from '../../src/payload/seed-source.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { seededBytes, tempDir } from './helpers.ts';

const MiB = 1024 * 1024;

function memorySeed(bytes: Buffer): SeedSource {
  return {
    description: 'memory',
    sizeBytes: bytes.byteLength,
    async read(buffer, offset) {
      const n = Math.max(0, Math.min(buffer.byteLength, bytes.byteLength - offset));
      buffer.set(bytes.subarray(offset, offset + n));
      return n;
    },
  };
}

describe('PacedSeed', () => {
  it('waits for IO_READ_BPS before each read (1 MiB at 1 MiB/s: about a second each, less the lateness allowance)', async () => {
    const clock = new FakeClock();
    const seed = new PacedSeed(memorySeed(seededBytes(4 * MiB, 1)), MiB, clock);
    const signal = new AbortController().signal;
    let done = false;
    const first = seed.readExactly(Buffer.alloc(MiB), 0, signal).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    expect(clock.sleepLog.map(Math.round)).toEqual([975]);
    await clock.advance(976);
    await first;
    const second = seed.readExactly(Buffer.alloc(MiB), MiB, signal);
    await new Promise((r) => setImmediate(r));
    expect(clock.sleepLog.map(Math.round)).toEqual([975, 999]); // the second MiB is earned at 2000 ms; now is 976
    await clock.advance(1000);
    await second;
  });

  it('does not wait without a limit, and says so when the seed ends inside a chunk', async () => {
    const clock = new FakeClock();
    const seed = new PacedSeed(memorySeed(Buffer.alloc(1000)), 0, clock);
    const signal = new AbortController().signal;
    await seed.readExactly(Buffer.alloc(1000), 0, signal);
    expect(clock.sleepLog).toEqual([]);
    await expect(seed.readExactly(Buffer.alloc(10), 995, signal)).rejects.toMatchObject({
      code: 'ERR_INSTALL_DEVICE',
      message: expect.stringMatching(/ended at 1000/),
    });
  });
});

describe('FileSeedSource', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await tempDir('seed-source-')));
  afterAll(() => cleanup());

  it('reads its region of the file only, up to its end', async () => {
    const path = join(dir, 'disk.img');
    const bytes = seededBytes(10_000, 2);
    await writeFile(path, bytes);
    const seed = new FileSeedSource(path, 1000, 5000);
    const buffer = Buffer.alloc(3000);
    expect(await seed.read(buffer, 0)).toBe(3000);
    expect(buffer.equals(bytes.subarray(1000, 4000))).toBe(true);
    expect(await seed.read(buffer, 4000)).toBe(1000);
    expect(buffer.subarray(0, 1000).equals(bytes.subarray(5000, 6000))).toBe(true);
    await seed.close();
  });
});
