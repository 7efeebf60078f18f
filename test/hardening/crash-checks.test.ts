// The crash lab's own checks must be able to fail: a half-written slot that boots, a complete image
// booted without a recorded flip, a damaged running slot, nothing bootable, and a machine that does
// not reach its target are each reported; a properly flipped slot passes.

import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableSlot, prepareForTry } from '../../src/slots/index.ts';
import { checkBootAfterKill, convergeMachine } from '../helpers/crash-checks.ts';
import { CrashLab } from '../helpers/crash-lab.ts';
import type { CrashMachine } from '../helpers/crash-machine.ts';
import { requireTool } from '../helpers/tools.ts';

const MIB = 1024 * 1024;
let root: string;
let lab: CrashLab;
let n = 0;

beforeAll(async () => {
  requireTool('sgdisk');
  root = await mkdtemp(join(tmpdir(), 'ue-crash-checks-'));
  lab = new CrashLab(root, { imageSizeBytes: MIB });
  await lab.setUp();
}, 60_000);

afterAll(async () => {
  await lab?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const machine = () => lab.machine('fresh', join(root, 'm', String(n++)));

/** Writes the first `lengthBytes` of the 2.0.0 image into a slot. */
async function writeImage(m: CrashMachine, partition: number, lengthBytes: number): Promise<void> {
  const image = await readFile(lab.imagePaths.get('2.0.0') as string);
  const fh = await open(m.disk, 'r+');
  try {
    await fh.write(image, 0, lengthBytes, (await m.slot(partition)).byteOffset);
  } finally {
    await fh.close();
  }
}

async function recordPending(m: CrashMachine, version: string): Promise<void> {
  const state = {
    formatVersion: 1,
    failedVersions: {},
    failureCount: 0,
    pendingEvents: [],
    pendingUpdate: { version, sizeBytes: 1, partition: 4, appliedAtMs: 0 },
  };
  await writeFile(join(m.stateDir, 'state.json'), JSON.stringify(state));
}

describe('checkBootAfterKill', () => {
  it('passes a slot that holds the complete image of the recorded, flipped version', async () => {
    const m = await machine();
    await writeImage(m, 4, MIB);
    await recordPending(m, '2.0.0');
    await prepareForTry(m.disk, 4);
    expect(await checkBootAfterKill(m, lab)).toEqual({ bootedPartition: 4, tableTorn: false, valid: true });
  });

  it('fails a flipped slot with half an image', async () => {
    const m = await machine();
    await writeImage(m, 4, MIB / 2);
    await recordPending(m, '2.0.0');
    await prepareForTry(m.disk, 4);
    expect(await checkBootAfterKill(m, lab)).toMatchObject({ bootedPartition: 4, valid: false, problem: expect.stringContaining('no complete image') });
  });

  it('fails a complete image that boots although no flip was recorded', async () => {
    const m = await machine();
    await writeImage(m, 4, MIB);
    await prepareForTry(m.disk, 4);
    expect(await checkBootAfterKill(m, lab)).toMatchObject({ bootedPartition: 4, valid: false, problem: expect.stringContaining('allowed: nothing') });
  });

  it('fails when the running slot was written to, and when nothing is bootable', async () => {
    const damaged = await machine();
    await writeImage(damaged, 3, 4096);
    expect(await checkBootAfterKill(damaged, lab)).toMatchObject({ valid: false, problem: expect.stringContaining('running slot 3') });
    const dead = await machine();
    await disableSlot(dead.disk, 3);
    expect(await checkBootAfterKill(dead, lab)).toMatchObject({
      bootedPartition: undefined,
      valid: false,
      problem: expect.stringContaining('nothing bootable'),
    });
  });
});

describe('convergeMachine', () => {
  it('reports a machine that cannot reach the target version', async () => {
    const m = await machine();
    const result = await convergeMachine(m, lab, '9.0.0', { maxDaemonRuns: 2, allowRollback: true });
    expect(result).toMatchObject({ converged: false, end: 'stuck' });
    expect(result.problems).toEqual(expect.arrayContaining([expect.stringContaining('not on 9.0.0')]));
  });

  it('accepts a rollback only when asked to: a new slot that used its try unconfirmed falls back to A', async () => {
    const m = await lab.machine('post-boot', join(root, 'm', String(n++)));
    expect((await m.reboot()).partition).toBe(3); // B: tries 0, not successful
    expect(await convergeMachine(m, lab, '2.0.0', { maxDaemonRuns: 1 })).toMatchObject({ converged: false, end: 'stuck' });
    expect(await convergeMachine(m, lab, '2.0.0', { maxDaemonRuns: 1, allowRollback: true })).toMatchObject({ converged: true, end: 'rolled-back' });
  });
});
