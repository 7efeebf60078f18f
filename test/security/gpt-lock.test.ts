// Attack on the commit point (issue 14, point 10): two processes flipping the same disk at once. Every
// GPT writer takes flock(LOCK_EX) on the disk or image file, so the second read-modify-write waits for
// the first to finish both copies; without the lock its edit of the old table would be lost or mixed.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiskImage } from '../../src/slots/disk-image.ts';
import { disableSlot, prepareForTry, readSlots } from '../../src/slots/index.ts';
import { sgdiskVerify } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-gptlock-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const slotsOf = async (disk: string) =>
  Object.fromEntries(
    (await readSlots(disk, { slotAPartition: 3, slotBPartition: 4 })).usrSlots.map((s) => [
      s.partition,
      { priority: s.priority, tries: s.tries, successful: s.successful },
    ]),
  );

describe('the GPT is edited under an exclusive lock (point 10)', () => {
  it('two concurrent flips: the second waits until the first wrote both copies, and both edits survive', async () => {
    requireTool('flock');
    requireTool('sgdisk');
    const disk = join(dir, 'two-flips.img');
    await createDiskImage(disk, { usrSizeBytes: 2 * 1024 * 1024, overwrite: true });
    let releaseA!: () => void;
    const paused = new Promise<void>((r) => (releaseA = r));
    let inPause!: () => void;
    const pauseReached = new Promise<void>((r) => (inPause = r));
    const order: string[] = [];
    // A: the flip to partition 4, stopped after its first of four writes.
    const a = prepareForTry(disk, 4, {
      hooks: {
        async afterWrite(_step, index) {
          order.push(`A${index}`);
          if (index === 0) {
            inPause();
            await paused;
          }
        },
      },
    });
    await pauseReached;
    // B: a second writer (its own open file description, as another process would have) meanwhile.
    const b = disableSlot(disk, 3, { hooks: { afterWrite: (_s, index) => void order.push(`B${index}`) } });
    await sleep(700);
    expect(order).toEqual(['A0']); // B has not written a byte while A is half-way
    releaseA();
    await Promise.all([a, b]);
    expect(order).toEqual(['A0', 'A1', 'A2', 'A3', 'B0', 'B1', 'B2', 'B3']);
    expect((await slotsOf(disk))[4]).toMatchObject({ tries: 1, successful: false }); // A's edit survived B
    expect((await slotsOf(disk))[3]).toEqual({ priority: 0, tries: 0, successful: false }); // B's edit on top
    expect(sgdiskVerify(disk).ok).toBe(true);
  });

  it('a writer in another process holding the lock (flock(1)) makes the flip wait for it', async () => {
    requireTool('flock');
    const disk = join(dir, 'foreign.img');
    await createDiskImage(disk, { usrSizeBytes: 2 * 1024 * 1024, overwrite: true });
    const holder = spawn('flock', ['--exclusive', disk, 'sleep', '1.5'], { stdio: 'ignore' });
    const exited = new Promise<number>((r) => holder.once('exit', () => r(Date.now())));
    await sleep(300);
    await prepareForTry(disk, 4);
    const done = Date.now();
    expect(done).toBeGreaterThanOrEqual(await exited);
    expect((await slotsOf(disk))[4]).toMatchObject({ tries: 1 });
  });
});
