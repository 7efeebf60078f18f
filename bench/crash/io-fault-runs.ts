// IO fault runs for the crash bench: one fresh machine per run and one fault on the slot's write
// target (EIO on a bad range, ENOSPC from an offset on, EIO on fdatasync with the writes lost, EIO
// on read-back) or a real tmpfs that fills up; then the hardening checks, recorded as data.

import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { checkBootAfterKill, convergeMachine } from '../../test/helpers/crash-checks.ts';
import type { CrashLab } from '../../test/helpers/crash-lab.ts';
import type { CrashMachine, DaemonResult } from '../../test/helpers/crash-machine.ts';
import { FaultInjectingTarget, ObservedTarget, type IoFault } from '../../test/helpers/fault-target.ts';
import { mountTmpfs } from '../../test/helpers/tmpfs.ts';

export const IO_FAULT_KINDS = ['eio-write', 'enospc-write', 'eio-sync-lost', 'eio-read', 'enospc-tmpfs'] as const;
export type IoFaultKind = (typeof IO_FAULT_KINDS)[number];

export const IO_FAULT_LABELS: Record<IoFaultKind, string> = {
  'eio-write': 'EIO on write (bad 4 KiB range)',
  'enospc-write': 'ENOSPC on write (full from an offset)',
  'eio-sync-lost': 'EIO on fdatasync, unsynced writes lost',
  'eio-read': 'EIO on read-back (bad 4 KiB range)',
  'enospc-tmpfs': 'ENOSPC on a real tmpfs (root)',
};

const EXPECTED_CODE: Record<IoFaultKind, ErrorCode> = {
  'eio-write': 'ERR_DOWNLOAD_WRITE',
  'enospc-write': 'ERR_INSTALL_DEVICE_SPACE',
  'eio-sync-lost': 'ERR_DOWNLOAD_WRITE',
  'eio-read': 'ERR_INSTALL_DEVICE', // a disk that cannot be read back is a device problem: the version is not blamed
  'enospc-tmpfs': 'ERR_INSTALL_DEVICE_SPACE',
};

export interface IoFaultRecord {
  kind: IoFaultKind;
  /** Where the fault starts (target bytes), or the free space left on the tmpfs. */
  atBytes: number;
  injected: boolean;
  errorCode: string | undefined;
  message: string | undefined;
  /** The expected code, a message naming the target (and for writes the offset). */
  clearError: boolean;
  slotAIntact: boolean;
  bootValid: boolean;
  checkpointNextBlock: number;
  resumeBytesWritten: number;
  /** The next run wrote exactly what the resume point lacked (everything, when the writes were lost). */
  resumedExactly: boolean;
  converged: boolean;
  dataLost: boolean;
  manualHelp: boolean;
  problems: string[];
}

async function zeroSlot(machine: CrashMachine, partition: number, lengthBytes: number): Promise<void> {
  const slot = await machine.slot(partition);
  const fh = await open(machine.disk, 'r+');
  try {
    await fh.write(Buffer.alloc(lengthBytes), 0, lengthBytes, slot.byteOffset);
  } finally {
    await fh.close();
  }
}

function faultOf(kind: Exclude<IoFaultKind, 'enospc-tmpfs'>, atBytes: number): IoFault {
  switch (kind) {
    case 'eio-write':
      return { errno: 'EIO', op: 'write', atOffset: atBytes, untilOffset: atBytes + 4096 };
    case 'enospc-write':
      return { errno: 'ENOSPC', op: 'write', atOffset: atBytes };
    case 'eio-sync-lost':
      return { errno: 'EIO', op: 'sync', atOffset: 0 };
    case 'eio-read':
      return { errno: 'EIO', op: 'read', atOffset: atBytes, untilOffset: atBytes + 4096 };
  }
}

/** One run: the fault, the checks, the fault gone, the resume, convergence. `atBytes` is drawn by the caller. */
export async function runIoFault(lab: CrashLab, machine: CrashMachine, kind: IoFaultKind, atBytes: number, blockBytes: number): Promise<IoFaultRecord> {
  const problems: string[] = [];
  let fired = 0;
  let unmount: () => void = () => undefined;
  try {
    let failed: DaemonResult;
    if (kind === 'enospc-tmpfs') {
      const dir = join(machine.dir, 'tiny-fs');
      await mkdir(dir);
      const fs = mountTmpfs(dir, 64 * 1024 * 1024);
      unmount = () => fs.unmount();
      await machine.relocateDisk(join(dir, 'disk.img'));
      fs.resize((await fs.usedBytes()) + atBytes);
      failed = await machine.daemonOnce();
      fired = failed.error?.code === 'ERR_INSTALL_DEVICE_SPACE' ? 1 : 0;
      fs.resize(64 * 1024 * 1024);
    } else {
      let target: FaultInjectingTarget | undefined;
      failed = await machine.daemonOnce(
        {},
        { openTarget: async (disk, slot) => (target = new FaultInjectingTarget(disk, slot.byteOffset, slot.byteLength, faultOf(kind, atBytes))) },
      );
      fired = target?.faultsFired ?? 0;
    }
    const b = await machine.slot(4);
    const description = new FileRegionTarget(machine.disk, b.byteOffset, b.byteLength).description;
    const message = failed.error?.message;
    const namesOffset = kind === 'eio-sync-lost' || kind === 'eio-read' || /at offset \d+/.test(message ?? '');
    const clearError = failed.exitCode !== 0 && failed.error?.code === EXPECTED_CODE[kind] && (message ?? '').includes(`"${description}"`) && namesOffset;
    if (!clearError) problems.push(`unclear error: exit ${failed.exitCode} ${failed.error?.code ?? ''} ${message ?? ''}`);
    const slotAIntact = (await machine.slotSha256(3, lab.imageSizeBytes)) === lab.images.get('1.0.0');
    const boot = await checkBootAfterKill(machine, lab);
    if (!boot.valid || boot.bootedPartition !== 3) problems.push(`after the fault: ${boot.problem ?? `boots ${boot.bootedPartition}`}`);
    if (kind === 'eio-sync-lost') await zeroSlot(machine, 4, lab.imageSizeBytes);
    const checkpointNextBlock = (await machine.checkpoint())?.nextBlock ?? 0;
    let observed: ObservedTarget | undefined;
    const resumed = await machine.daemonOnce(
      {},
      { openTarget: async (disk, slot) => (observed = new ObservedTarget(new FileRegionTarget(disk, slot.byteOffset, slot.byteLength))) },
    );
    const resumeBytesWritten = observed?.bytesWritten ?? 0;
    const expectedBytes = kind === 'eio-sync-lost' ? lab.imageSizeBytes : lab.imageSizeBytes - checkpointNextBlock * blockBytes;
    const resumedExactly = resumed.exitCode === 0 && resumeBytesWritten === expectedBytes && (await machine.state())?.pendingUpdate?.version === '2.0.0';
    if (!resumedExactly)
      problems.push(
        `resume: exit ${resumed.exitCode} ${resumed.error?.code ?? ''}, wrote ${resumeBytesWritten} of ${expectedBytes} bytes, pending ${(await machine.state())?.pendingUpdate?.version ?? 'none'}`,
      );
    const convergence = await convergeMachine(machine, lab, '2.0.0');
    problems.push(...convergence.problems);
    return {
      kind,
      atBytes,
      injected: fired > 0,
      errorCode: failed.error?.code,
      message,
      clearError,
      slotAIntact,
      bootValid: boot.valid && boot.bootedPartition === 3,
      checkpointNextBlock,
      resumeBytesWritten,
      resumedExactly,
      converged: convergence.converged,
      dataLost: !slotAIntact || !boot.valid,
      manualHelp: !convergence.converged,
      problems,
    };
  } finally {
    unmount();
  }
}
