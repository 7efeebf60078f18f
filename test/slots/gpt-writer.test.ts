// Crash injection: the flip is cut after each individual write, cleanly or with that write torn,
// and the disk must still boot a valid slot (old or new), and the next open must repair it.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openFsDisk } from '../../src/slots/fs-disk.ts';
import { readGptTable } from '../../src/slots/gpt-reader.ts';
import type { GptTable, GptWriteStep } from '../../src/slots/gpt-table.ts';
import { editSlots, prepareForTry, repairGpt, listUsrSlots } from '../../src/slots/slot-operations.ts';
import { bootSimulate } from '../../src/slots/boot-simulator.ts';
import { createOwnImage, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;

class SimulatedCrash extends Error {}

async function tableOf(path: string): Promise<GptTable> {
  const disk = await openFsDisk(path);
  try {
    return await readGptTable(disk);
  } finally {
    await disk.close();
  }
}

function region(table: GptTable, step: GptWriteStep): { offset: number; length: number } {
  const ss = table.geometry.sectorSizeBytes;
  const h = step.startsWith('primary') ? table.primary : table.backup;
  return step.endsWith('header') ? { offset: h.myLba * ss, length: ss } : { offset: h.entriesLba * ss, length: table.entries.length };
}

/** Tears the write just made: new bytes before a cut inside the changed range, the old ones after it. */
function tear(path: string, oldImage: Buffer, at: { offset: number; length: number }): void {
  const fd = openSync(path, 'r+');
  try {
    const now = Buffer.alloc(at.length);
    readSync(fd, now, 0, at.length, at.offset);
    const old = oldImage.subarray(at.offset, at.offset + at.length);
    const diff = [...now.keys()].filter((i) => now[i] !== old[i]);
    expect(diff.length).toBeGreaterThan(1); // the write changed something that can be torn
    const cut = Math.floor(((diff[0] ?? 0) + (diff[diff.length - 1] ?? 0)) / 2) + 1;
    writeSync(fd, old, cut, at.length - cut, at.offset + cut);
  } finally {
    closeSync(fd);
  }
}

async function crashFlip(opts: { cutAfter: number; torn: boolean; damagePrimaryFirst?: boolean }) {
  const path = join(tmp.dir, `crash-${n++}.img`);
  await createOwnImage(path, { usrSizeBytes: 1024 * 1024 });
  // A at priority 2, so that the flip changes both entries (B: 0 -> 2, tries 1; A: 2 -> 1) and a
  // torn entries write can leave one changed and the other not.
  await editSlots(path, {}, (e) => e.set(3, { priority: 2 }));
  if (opts.damagePrimaryFirst) {
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 512 + 60);
    writeSync(fd, Buffer.from([(b[0] ?? 0) ^ 0xff]), 0, 1, 512 + 60);
    closeSync(fd);
  }
  const before = await tableOf(path);
  const oldImage = readFileSync(path);
  const steps: GptWriteStep[] = [];
  await expect(
    prepareForTry(path, 4, {
      hooks: {
        afterWrite(step, index) {
          steps.push(step);
          expect(index).toBe(steps.length - 1);
          if (index === opts.cutAfter) {
            if (opts.torn) tear(path, oldImage, region(before, step));
            throw new SimulatedCrash(`crash after ${step}`);
          }
        },
      },
    }),
  ).rejects.toBeInstanceOf(SimulatedCrash);
  return { path, steps };
}

const ORDER: GptWriteStep[] = ['backup-entries', 'backup-header', 'primary-entries', 'primary-header'];

describe('crash-safe flip', () => {
  it('writes the backup copy first, then the primary, and leaves both copies equal', async () => {
    const path = join(tmp.dir, 'order.img');
    await createOwnImage(path, { usrSizeBytes: 1024 * 1024 });
    const steps: GptWriteStep[] = [];
    await prepareForTry(path, 4, { hooks: { afterWrite: (s) => void steps.push(s) } });
    expect(steps).toEqual(ORDER);
    expect((await tableOf(path)).problems).toEqual([]);
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
  });

  // Until the primary header is valid with the new entries, the primary (old) is used; once the
  // primary entries are new but its header is not, the primary is invalid and the backup (new) is used.
  for (const torn of [false, true]) {
    for (const cutAfter of [0, 1, 2, 3]) {
      const expected = cutAfter < 2 ? { partition: 3, tries: 0 } : { partition: 4, tries: 0 };
      it(`cut after write ${cutAfter} (${ORDER[cutAfter]})${torn ? ', torn' : ''}: boots ${expected.partition === 3 ? 'the old' : 'the new'} slot; the next open repairs`, async () => {
        const { path, steps } = await crashFlip({ cutAfter, torn });
        expect(steps).toEqual(ORDER.slice(0, cutAfter + 1));
        const problemsBefore = (await listUsrSlots(path)).problems;
        expect(problemsBefore.length > 0).toBe(cutAfter < 3 || torn);
        expect(await bootSimulate(path)).toMatchObject(expected);
        await repairGpt(path);
        expect((await tableOf(path)).problems).toEqual([]);
        expect(sgdiskVerify(path)).toMatchObject({ ok: true });
        // and the disk still boots: the old slot for good, or the old slot after the new one's try
        expect((await bootSimulate(path)).partition).toBe(3);
      });
    }
  }

  it('repairs right away on the next open, without a boot in between', async () => {
    const { path } = await crashFlip({ cutAfter: 1, torn: false });
    expect(sgdiskVerify(path).ok).toBe(false);
    expect(await repairGpt(path)).toEqual([expect.stringMatching(/the backup GPT at LBA \d+ differs from the primary/)]);
    expect(sgdiskVerify(path)).toMatchObject({ ok: true });
    expect(await repairGpt(path)).toEqual([]);
  });

  // With a damaged primary the backup is the source: the primary is rewritten first.
  for (const torn of [false, true]) {
    for (const cutAfter of [0, 1, 2, 3]) {
      const newSlot = torn ? cutAfter >= 2 : cutAfter >= 1;
      it(`damaged primary, cut after write ${cutAfter}${torn ? ', torn' : ''}: still boots a valid slot`, async () => {
        const { path, steps } = await crashFlip({ cutAfter, torn, damagePrimaryFirst: true });
        expect(steps).toEqual(['primary-entries', 'primary-header', 'backup-entries', 'backup-header'].slice(0, cutAfter + 1));
        expect((await bootSimulate(path)).partition).toBe(newSlot ? 4 : 3);
        await repairGpt(path);
        expect(sgdiskVerify(path)).toMatchObject({ ok: true });
      });
    }
  }
});
