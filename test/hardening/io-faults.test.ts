// IO fault injection: the slot's write target fails with EIO or ENOSPC at chosen offsets (on the
// real FileRegionTarget's file handle), and a disk image on a tiny tmpfs runs out of space for real.
// Each ends in a clear error naming the target and offset, keeps slot A intact and booting, and the
// next run, with the fault gone, resumes from the checkpoint and finishes the update.

import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { EXIT_CODES } from '../../src/errors.ts';
import { checkBootAfterKill, convergeMachine } from '../helpers/crash-checks.ts';
import { CrashLab } from '../helpers/crash-lab.ts';
import type { CrashMachine, DaemonResult } from '../helpers/crash-machine.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { sgdiskVerify } from '../helpers/disk-image.ts';
import { FaultInjectingTarget, ObservedTarget, type IoFault } from '../helpers/fault-target.ts';
import { mountTmpfs } from '../helpers/tmpfs.ts';
import { requireTool } from '../helpers/tools.ts';

const MIB = 1024 * 1024;
const BLOCK_BYTES = 64 * 1024;

let root: string;
let lab: CrashLab;
let runs = 0;

beforeAll(async () => {
  requireTool('sgdisk');
  root = await mkdtemp(join(tmpdir(), 'ue-iofault-'));
  lab = new CrashLab(root, { imageSizeBytes: 2 * MIB, blockSizeBytes: BLOCK_BYTES });
  await lab.setUp();
}, 60_000);

afterAll(async () => {
  await lab?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function freshMachine(): Promise<CrashMachine> {
  return lab.machine('fresh', join(root, 'machines', String(runs++)));
}

/** The description the real target gives slot B of this machine (the checkpoint is bound to it). */
async function slotBDescription(machine: CrashMachine): Promise<string> {
  const b = await machine.slot(4);
  return new FileRegionTarget(machine.disk, b.byteOffset, b.byteLength).description;
}

/** What must hold after a failed run: slot A intact and booting, B out of the boot order, nothing blacklisted. */
async function expectSafeFailure(machine: CrashMachine): Promise<void> {
  expect(await machine.slotSha256(3, lab.imageSizeBytes)).toBe(lab.images.get('1.0.0'));
  expect(await machine.slot(4)).toMatchObject({ priority: 0, tries: 0, successful: false });
  expect(await checkBootAfterKill(machine, lab)).toMatchObject({ bootedPartition: 3, valid: true });
  const state = await machine.state();
  expect(state?.pendingUpdate).toBeUndefined();
  expect(state?.failedVersions).toEqual({});
  expect(sgdiskVerify(machine.disk).ok).toBe(true);
}

/** The next run with a healthy target: it writes only what the checkpoint lacks, then the update completes. */
async function expectResume(machine: CrashMachine, nextBlock: number): Promise<void> {
  let observed: ObservedTarget | undefined;
  const result = await machine.daemonOnce(
    {},
    {
      openTarget: async (disk, slot) => (observed = new ObservedTarget(new FileRegionTarget(disk, slot.byteOffset, slot.byteLength))),
    },
  );
  expect(result).toEqual({ exitCode: 0 });
  expect(observed?.bytesWritten).toBe(lab.imageSizeBytes - nextBlock * BLOCK_BYTES);
  expect(await machine.slotSha256(4, lab.imageSizeBytes)).toBe(lab.images.get('2.0.0'));
  expect(await machine.slot(4)).toMatchObject({ priority: 2, tries: 1, successful: false });
  const convergence = await convergeMachine(machine, lab, '2.0.0');
  expect(convergence.problems).toEqual([]);
  expect(convergence.converged).toBe(true);
}

/** Overwrites the first image-size bytes of a slot with zeros (writes that a failed sync lost). */
async function zeroSlot(machine: CrashMachine, partition: number): Promise<void> {
  const slot = await machine.slot(partition);
  const fh = await open(machine.disk, 'r+');
  try {
    await fh.write(Buffer.alloc(lab.imageSizeBytes), 0, lab.imageSizeBytes, slot.byteOffset);
  } finally {
    await fh.close();
  }
}

async function runWithFault(machine: CrashMachine, fault: IoFault): Promise<{ result: DaemonResult; fired: number }> {
  let target: FaultInjectingTarget | undefined;
  const result = await machine.daemonOnce(
    {},
    {
      openTarget: async (disk, slot) => (target = new FaultInjectingTarget(disk, slot.byteOffset, slot.byteLength, fault)),
    },
  );
  return { result, fired: target?.faultsFired ?? 0 };
}

describe('a write target that fails', () => {
  it.each([
    { what: 'EIO on a bad 4 KiB range', errno: 'EIO', atOffset: MIB + 12_345, untilOffset: MIB + 12_345 + 4096, code: 'ERR_DOWNLOAD_WRITE' },
    { what: 'EIO on the first sector', errno: 'EIO', atOffset: 0, untilOffset: 512, code: 'ERR_DOWNLOAD_WRITE' },
    { what: 'ENOSPC from an offset on (a full disk)', errno: 'ENOSPC', atOffset: 700_001, untilOffset: undefined, code: 'ERR_INSTALL_DEVICE_SPACE' },
  ] as const)('$what: $code naming the target and offset, then a resume from the checkpoint', async ({ errno, atOffset, untilOffset, code }) => {
    const machine = await freshMachine();
    const { result, fired } = await runWithFault(machine, { errno, op: 'write', atOffset, ...(untilOffset !== undefined ? { untilOffset } : {}) });
    expect(fired).toBeGreaterThan(0);
    expect(result.exitCode).toBe(EXIT_CODES.io);
    expect(result.error?.code).toBe(code);
    const message = result.error?.message ?? '';
    expect(message).toContain(`Cannot write to "${await slotBDescription(machine)}" at offset `);
    const reported = Number(/at offset (\d+): /.exec(message)?.[1]);
    // A bad range fails exactly where it starts; on a full disk, the first write to fail may be a later block's.
    if (untilOffset !== undefined) expect(reported).toBe(atOffset);
    else expect(reported).toBeGreaterThanOrEqual(atOffset);
    expect(message).toContain(`: ${errno}: `);
    await expectSafeFailure(machine);
    const nextBlock = Math.floor(atOffset / BLOCK_BYTES);
    expect((await machine.checkpoint())?.nextBlock ?? 0).toBe(nextBlock);
    await expectResume(machine, nextBlock);
  });

  it('EIO on fdatasync: ERR_DOWNLOAD_WRITE naming the target; when the unsynced blocks are lost, the next run re-verifies and writes them again', async () => {
    const machine = await freshMachine();
    const { result, fired } = await runWithFault(machine, { errno: 'EIO', op: 'sync', atOffset: 0 });
    expect(fired).toBeGreaterThan(0);
    expect(result.error?.code).toBe('ERR_DOWNLOAD_WRITE');
    expect(result.error?.message).toContain(`Cannot sync "${await slotBDescription(machine)}": EIO`);
    await expectSafeFailure(machine);
    // A failed fdatasync means the writes may never reach the disk: lose them, whatever the resume point says.
    await zeroSlot(machine, 4);
    await expectResume(machine, 0);
  });
});

describe('a write target that cannot be read back', () => {
  it('EIO on read-back: ERR_INSTALL_DEVICE naming the target and offset, the version not remembered as failed, then a resume', async () => {
    const machine = await freshMachine();
    const atOffset = MIB + 4096;
    const { result, fired } = await runWithFault(machine, { errno: 'EIO', op: 'read', atOffset, untilOffset: atOffset + 4096 });
    expect(fired).toBeGreaterThan(0);
    expect(result.exitCode).toBe(EXIT_CODES.io);
    expect(result.error?.code).toBe('ERR_INSTALL_DEVICE');
    expect(result.error?.message).toContain(`Cannot read back "${await slotBDescription(machine)}" at offset `);
    await expectSafeFailure(machine); // includes: failedVersions is empty
    // The resume point covers the synced blocks; the next run re-verifies every one of them (the one
    // that could not be read included) against the signed block table before it trusts it.
    const nextBlock = (await machine.checkpoint())?.nextBlock ?? 0;
    expect(nextBlock).toBeGreaterThan(Math.floor(atOffset / BLOCK_BYTES));
    await expectResume(machine, nextBlock);
  });
});

describe('a disk image on a tiny file system', () => {
  it('runs out of space for real: one line from the CLI, exit 8, slot A intact; after space is freed the update resumes', async () => {
    const machine = await freshMachine();
    const mountPoint = join(root, 'tiny-fs');
    await mkdir(mountPoint);
    const fs = mountTmpfs(mountPoint, 64 * MIB);
    try {
      await machine.relocateDisk(join(mountPoint, 'disk.img'));
      fs.resize((await fs.usedBytes()) + MIB); // room for about half of the 2 MiB image
      const sysroot = join(root, 'sysroot');
      await mkdir(sysroot, { recursive: true });
      const conf = join(root, 'tiny-fs.conf');
      const input = machine.settingsInput();
      await writeFile(
        conf,
        [
          `SERVER=${input.server}`,
          `VERSION=${input.version}`,
          `DISK=${machine.disk}`,
          'BOOTED_PARTITION=3',
          `PUBLIC_KEYS=${input.publicKeys}`,
          `STATE_DIR=${machine.stateDir}`,
          `RUN_DIR=${machine.runDir}`,
          `CONTROL_SOCKET=${join(machine.runDir, 'control.sock')}`,
          'REBOOT_STRATEGY=off',
          'REBOOT_COMMAND=true',
          'LOG_LEVEL=silent',
          '',
        ].join('\n'),
      );
      const cli = await runCli('update-engine', ['daemon', '--once', '--sysroot', sysroot, '--config', conf], { env: cleanEnv() });
      expect(cli.code).toBe(EXIT_CODES.io);
      const description = await slotBDescription(machine);
      const line = new RegExp(
        `^update-engine: Cannot write to "${description.replace(/[[\]+.]/g, '\\$&')}" at offset (\\d+): ENOSPC: no space left on device, write\\n$`,
      );
      expect(cli.stderr).toMatch(line);
      const offset = Number(line.exec(cli.stderr)?.[1]);
      // Where the file system runs out depends on what else it counted (page-sized metadata): at most
      // the room left, possibly the very first write.
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(lab.imageSizeBytes);
      await expectSafeFailure(machine);
      const checkpoint = await machine.checkpoint();
      expect(checkpoint === undefined || checkpoint.targetDescription === description).toBe(true);
      // Blocks before the one that failed are on the slot, except those still being hashed when it failed.
      const nextBlock = checkpoint?.nextBlock ?? 0;
      expect(nextBlock * BLOCK_BYTES).toBeLessThanOrEqual(offset);

      fs.resize(64 * MIB); // the fault is gone
      await expectResume(machine, nextBlock);
    } finally {
      fs.unmount();
    }
  }, 60_000);
});
