// Interop with the operators' tools, both ways: sgdisk-made tables, cgpt-set attributes, cgpt's own
// prioritize (on ChromeOS kernel partitions, which Debian's cgpt accepts), and loop devices as root.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { listUsrSlots, markGood, prepareForTry, prioritize, readSlots, disableSlot, restoreBooted } from '../../src/slots/slot-operations.ts';
import { bootSimulate } from '../../src/slots/boot-simulator.ts';
import { prioritizePartitions } from '../../src/slots/slot-priority.ts';
import { cgptAttributes, cgptSetAttributes, createOwnImage, createSgdiskImage, sgdisk, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;
const AB = { slotAPartition: 3, slotBPartition: 4 };
const CHROMEOS_KERNEL = 'FE3A2A5D-4F32-41A7-B725-ACCC3285A309';

function sgdiskImage(): string {
  const path = join(tmp.dir, `sg-${n++}.img`);
  createSgdiskImage(path);
  return path;
}

/** Our view of a slot, in cgpt's terms. */
async function ours(disk: string, partition: number) {
  const s = (await listUsrSlots(disk)).usrSlots.find((x) => x.partition === partition);
  return { priority: s?.priority, tries: s?.tries, successful: s?.successful ? 1 : 0 };
}

describe('tables made by sgdisk', () => {
  it('are changed by our operations so that sgdisk -v stays clean and cgpt reports exactly what we set', async () => {
    const disk = sgdiskImage();
    const steps: Array<[string, () => Promise<unknown>, Record<number, { priority: number; tries: number; successful: number }>]> = [
      ['markGood A', () => markGood(disk, 3), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 0, tries: 0, successful: 0 } }],
      ['prepareForTry B', () => prepareForTry(disk, 4), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 2, tries: 1, successful: 0 } }],
      ['boot-sim', () => bootSimulate(disk), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 2, tries: 0, successful: 0 } }],
      ['markGood B', () => markGood(disk, 4), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 2, tries: 0, successful: 1 } }],
      ['prioritize A', () => prioritize(disk, 3), { 3: { priority: 2, tries: 0, successful: 1 }, 4: { priority: 1, tries: 0, successful: 1 } }],
      ['disable B', () => disableSlot(disk, 4), { 3: { priority: 2, tries: 0, successful: 1 }, 4: { priority: 0, tries: 0, successful: 0 } }],
      ['prepareForTry B', () => prepareForTry(disk, 4), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 2, tries: 1, successful: 0 } }],
      ['restoreBooted A', () => restoreBooted(disk, 3, 4), { 3: { priority: 1, tries: 0, successful: 1 }, 4: { priority: 0, tries: 0, successful: 0 } }],
    ];
    for (const [name, op, expected] of steps) {
      await op();
      const verify = sgdiskVerify(disk);
      expect(verify.ok, `${name}: ${verify.output}`).toBe(true);
      for (const p of [3, 4]) expect(cgptAttributes(disk, p), `${name}: partition ${p}`).toEqual(expected[p]);
    }
    // the other partitions are untouched
    expect(sgdisk(disk, ['-i', '9'])).toContain("Partition name: 'ROOT'");
    expect(sgdisk(disk, ['-i', '6'])).toContain("Partition name: 'OEM'");
  });

  it('keep attribute bits we do not own (set by sgdisk: 0, 2, 60, 63)', async () => {
    const disk = sgdiskImage(); // sgdisk leaves both slots at priority 0: B becomes 1
    sgdisk(disk, ['-A', '4:set:0', '-A', '4:set:2', '-A', '4:set:60', '-A', '4:set:63', '-A', '3:set:62']);
    await prepareForTry(disk, 4);
    await bootSimulate(disk);
    await markGood(disk, 4);
    for (const bit of [0, 2, 60, 63]) expect(sgdisk(disk, ['-A', `4:get:${bit}`]).trim()).toBe(`4:${bit}:1`);
    expect(sgdisk(disk, ['-A', '3:get:62']).trim()).toBe('3:62:1');
    expect(sgdisk(disk, ['-A', '4:get:1']).trim()).toBe('4:1:0');
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 1, tries: 0, successful: 1 });
  });
});

describe('attributes set by cgpt add', () => {
  it('are read identically by ours', async () => {
    const disk = sgdiskImage();
    const attrs = fc.record({ priority: fc.nat(15), tries: fc.nat(15), successful: fc.nat(1) });
    await fc.assert(
      fc.asyncProperty(attrs, attrs, async (a, b) => {
        cgptSetAttributes(disk, 3, a);
        cgptSetAttributes(disk, 4, b);
        expect(await ours(disk, 3)).toEqual(a);
        expect(await ours(disk, 4)).toEqual(b);
      }),
      { numRuns: 15 },
    );
    const t = await readSlots(disk, AB);
    expect(t.problems).toEqual([]);
  });
});

describe('prioritize', () => {
  it('renumbers exactly as `cgpt prioritize` does', () => {
    const disk = join(tmp.dir, 'kernels.img');
    const layout = [1, 2, 3, 4, 5, 6].map((p) => ({ partition: p, sizeMiB: 1, type: CHROMEOS_KERNEL, label: `KERN-${p}` }));
    createSgdiskImage(disk, 16, layout);
    fc.assert(
      fc.property(fc.array(fc.nat(15), { minLength: 6, maxLength: 6 }), fc.integer({ min: 1, max: 6 }), (priorities, target) => {
        for (const [i, priority] of priorities.entries()) cgptSetAttributes(disk, i + 1, { priority, tries: 0, successful: 1 });
        execFileSync('cgpt', ['prioritize', '-i', String(target), disk]);
        const theirs = priorities.map((_, i) => cgptAttributes(disk, i + 1).priority);
        const mine = prioritizePartitions(new Map(priorities.map((p, i) => [i + 1, p] as const)), target);
        expect(priorities.map((_, i) => mine.get(i + 1))).toEqual(theirs);
      }),
      { numRuns: 12 },
    );
  });
});

describe('loop devices (root)', () => {
  it.each([512, 4096] as const)('flips, boots and marks good on /dev/loopN with %i-byte sectors; cgpt and sgdisk agree', async (ss) => {
    const image = join(tmp.dir, `loop-${n++}.img`);
    const made = await createOwnImage(image, { sectorSizeBytes: ss });
    await withLoopDevice(image, { sectorSizeBytes: ss }, async (loop) => {
      const t = await readSlots(loop.path, AB);
      expect(t.sectorSizeBytes).toBe(ss);
      expect(t.slotB.byteOffset).toBe(made.partitions.find((p) => p.partition === 4)?.byteOffset);
      // the kernel's view of the partition (partx) matches ours
      const sys = (f: string) => Number(execFileSync('cat', [`/sys/class/block/${loop.name}p4/${f}`], { encoding: 'utf8' }));
      expect(sys('start') * 512).toBe(t.slotB.byteOffset);
      expect(sys('size') * 512).toBe(t.slotB.byteLength);
      // a pattern written through the partition node shows up at the slot's byte offset
      const fd = openSync(loop.partitionPath(4), 'r+');
      writeSync(fd, Buffer.from('USR-B payload'), 0, 13, 0);
      closeSync(fd);
      const back = Buffer.alloc(13);
      const whole = openSync(loop.path, 'r');
      readSync(whole, back, 0, 13, t.slotB.byteOffset);
      closeSync(whole);
      expect(back.toString()).toBe('USR-B payload');

      await prepareForTry(loop.path, 4);
      expect(cgptAttributes(loop.path, 4)).toEqual({ priority: 2, tries: 1, successful: 0 });
      expect(await bootSimulate(loop.path)).toMatchObject({ partition: 4, tries: 0 });
      expect(cgptAttributes(loop.path, 4)).toEqual({ priority: 2, tries: 0, successful: 0 });
      await markGood(loop.path, 4);
      expect(cgptAttributes(loop.path, 4)).toEqual({ priority: 2, tries: 0, successful: 1 });
      expect(cgptAttributes(loop.path, 3)).toEqual({ priority: 1, tries: 0, successful: 1 });
      const verify = sgdiskVerify(loop.path);
      expect(verify.ok, verify.output).toBe(true);
    });
    // and through the image file (512 only: cgpt and sgdisk read files with 512-byte sectors)
    if (ss === 512) expect(cgptAttributes(image, 4)).toEqual({ priority: 2, tries: 0, successful: 1 });
    expect((await readSlots(image, AB)).slotB).toMatchObject({ priority: 2, tries: 0, successful: true });
  });
});
