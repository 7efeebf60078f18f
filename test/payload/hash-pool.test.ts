// Worker-thread SHA-256: shared memory hashed in place, owned buffers moved, views copied; order kept.

import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { applyHashWorkers, HashPool } from '../../src/payload/hash-pool.ts';
import { seededBytes } from './helpers.ts';

const pool = new HashPool(2);
afterAll(() => pool.close());
const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

describe('HashPool', () => {
  it('hashes shared memory in place, and the caller keeps it', async () => {
    const shared = Buffer.from(new SharedArrayBuffer(100_000));
    seededBytes(100_000, 1).copy(shared);
    expect((await pool.hashOnce(shared.subarray(10, 90_000))).toString('hex')).toBe(sha(shared.subarray(10, 90_000)));
    expect(shared.byteLength).toBe(100_000);
  });

  it('hashes a shared buffer it was given before by its number, with its current bytes, on every worker', async () => {
    const shared = Buffer.from(new SharedArrayBuffer(50_000));
    for (let round = 0; round < 4; round++) {
      seededBytes(50_000, 10 + round).copy(shared);
      const digests = await Promise.all([pool.hashOnce(shared), pool.hashOnce(shared.subarray(7, 40_000)), pool.stream(round).update(shared)]);
      expect(digests[0].toString('hex')).toBe(sha(shared));
      expect(digests[1].toString('hex')).toBe(sha(shared.subarray(7, 40_000)));
    }
  });

  it('copies a plain buffer unless it is given away', async () => {
    const plain = Buffer.from(seededBytes(70_000, 2));
    const expected = sha(plain);
    expect((await pool.hashOnce(plain)).toString('hex')).toBe(expected);
    expect(plain.byteLength).toBe(70_000);
    const owned = Buffer.allocUnsafeSlow(70_000);
    plain.copy(owned);
    expect((await pool.hashOnce(owned, true)).toString('hex')).toBe(expected);
    expect(owned.buffer.byteLength).toBe(0); // moved to the worker
  });

  it('copies a view into a larger buffer even when given away (its neighbours stay intact)', async () => {
    const big = Buffer.from(seededBytes(10_000, 3));
    const view = big.subarray(100, 5000);
    expect((await pool.hashOnce(view, true)).toString('hex')).toBe(sha(big.subarray(100, 5000)));
    expect(big.byteLength).toBe(10_000);
  });

  it('keeps the order of a stream across shared, moved and copied updates', async () => {
    const parts = [seededBytes(5000, 4), seededBytes(300_000, 5), seededBytes(1, 6)];
    const expected = sha(...parts);
    const stream = pool.stream(1);
    const shared = Buffer.from(new SharedArrayBuffer(5000));
    (parts[0] as Buffer).copy(shared);
    const moved = Buffer.allocUnsafeSlow(300_000);
    (parts[1] as Buffer).copy(moved);
    await Promise.all([stream.update(shared), stream.update(moved, true), stream.update(parts[2] as Buffer), stream.update(new Uint8Array(0))]);
    expect((await stream.digest()).toString('hex')).toBe(expected);
  });

  it('hands a large copy over in slices, and updates given meanwhile (shared, small) keep their place', async () => {
    // A 5 MiB plain buffer (a chunk index), not awaited, then a shared block changed right after its
    // update was hashed, then a small copy, then the digest: all in the order given.
    const index = seededBytes(5 * 1024 * 1024 + 7, 7);
    const shared = Buffer.from(new SharedArrayBuffer(100_000));
    seededBytes(100_000, 8).copy(shared);
    const tail = seededBytes(10, 9);
    const expected = sha(index, shared, tail);
    const stream = pool.stream(0);
    const updates = [stream.update(index), stream.update(shared).then(() => shared.fill(0)), stream.update(tail)];
    await stream.drained(); // every slice handed over
    expect((await stream.digest()).toString('hex')).toBe(expected);
    await Promise.all(updates);
    expect(index.byteLength).toBe(5 * 1024 * 1024 + 7); // the caller keeps it
  });

  it('rejects requests after the pool is closed', async () => {
    const other = new HashPool(1);
    await other.close();
    await expect(other.hashOnce(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_INTERNAL', message: 'Hash worker failed: hash worker exited' });
  });
});

describe('applyHashWorkers', () => {
  it('one worker on two CPUs or fewer, two above', () => {
    expect([1, 2, 3, 8].map((n) => applyHashWorkers(n))).toEqual([1, 1, 2, 2]);
  });
});
