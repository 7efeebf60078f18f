// BackgroundSyncer: syncs start every N bytes without blocking the writer, only one runs at a time,
// the writer waits only past the unsynced bound, flush() makes everything durable, errors surface.

import { describe, expect, it } from 'vitest';
import { BackgroundSyncer } from '../../src/io/background-syncer.ts';
import { flushMicrotasks } from '../fakes/fake-clock.ts';
import { deferred } from '../helpers/memory-target.ts';

function controlledSync() {
  const calls: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const fn = () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, fn };
}

describe('BackgroundSyncer', () => {
  it('starts a sync every syncEveryBytes and does not wait for it', async () => {
    const { calls, fn } = controlledSync();
    const s = new BackgroundSyncer(fn, { syncEveryBytes: 100, maxUnsyncedBytes: 1000 });
    await s.written(60);
    expect(calls.length).toBe(0);
    await s.written(60); // 120 >= 100: one sync starts; written() returns at once
    expect(calls.length).toBe(1);
    await s.written(150); // a sync is running: no second one in parallel
    expect(calls.length).toBe(1);
    calls[0]?.resolve();
    await flushMicrotasks();
    // 150 bytes written since the first sync started: the next starts as soon as the first ends.
    expect(calls.length).toBe(2);
    expect(s.syncedBytes).toBe(120);
    expect(s.unsyncedBytes).toBe(150);
  });

  it('makes the writer wait only while more than maxUnsyncedBytes are not durable', async () => {
    const { calls, fn } = controlledSync();
    const s = new BackgroundSyncer(fn, { syncEveryBytes: 100, maxUnsyncedBytes: 300 });
    await s.written(100);
    await s.written(100);
    await s.written(100);
    let returned = false;
    const p = s.written(100).then(() => (returned = true)); // 400 unsynced > 300
    await flushMicrotasks();
    expect(returned).toBe(false);
    calls[0]?.resolve(); // covers the first 100: 300 left, within the bound
    await p;
    expect(returned).toBe(true);
    expect(s.unsyncedBytes).toBe(300);
  });

  it('flush() waits for the running sync and syncs the rest', async () => {
    let syncs = 0;
    const gate = deferred();
    const s = new BackgroundSyncer(
      async () => {
        syncs++;
        if (syncs === 1) await gate.promise;
      },
      { syncEveryBytes: 10 },
    );
    await s.written(10);
    await s.written(5);
    const flushed = s.flush();
    gate.resolve();
    await flushed;
    expect(syncs).toBe(2);
    expect(s.unsyncedBytes).toBe(0);
    await s.flush(); // nothing new: no sync
    expect(syncs).toBe(2);
  });

  it('reports a failed background sync to the next caller', async () => {
    const { calls, fn } = controlledSync();
    const s = new BackgroundSyncer(fn, { syncEveryBytes: 10 });
    await s.written(10);
    calls[0]?.reject(new Error('EIO'));
    await flushMicrotasks();
    await expect(s.written(1)).rejects.toThrow('EIO');
    await expect(s.flush()).rejects.toThrow('EIO');
  });
});
