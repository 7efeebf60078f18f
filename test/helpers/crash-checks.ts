// The checks after a crash: which slot the bootloader would boot right now (on a copy of the disk)
// and whether that slot's bytes are an image it may hold; and whether restarts of the daemon (and
// the reboots it asks for) bring the machine to the target version with no manual help.

import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bootSimulate } from '../../src/slots/index.ts';
import type { CrashLab } from './crash-lab.ts';
import { sparseCopy, type CrashMachine } from './crash-machine.ts';
import { requireTool } from './tools.ts';

/**
 * `sgdisk -v` without blocking the event loop (time-based kills are timers in this process): the
 * same verdict as disk-image.ts sgdiskVerify, "No problems found" and no warning.
 */
export function sgdiskClean(path: string): Promise<boolean> {
  requireTool('sgdisk');
  return new Promise((resolve) => {
    execFile('sgdisk', ['-v', path], { encoding: 'utf8' }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      resolve(!error && output.includes('No problems found') && !/Warning|Problem:|Caution/i.test(output));
    });
  });
}

export interface BootCheck {
  /** The partition the boot simulator chose on a copy of the disk; undefined: none was bootable. */
  bootedPartition: number | undefined;
  /** sgdisk -v found problems on the disk as the crash left it (a torn table write; repaired at start). */
  tableTorn: boolean;
  /** The chosen slot holds an image it may hold, and the running slot is intact. */
  valid: boolean;
  problem?: string;
}

/**
 * Boots a copy of the disk as the crash left it. The chosen slot must hold the version it was last
 * booted with, or the pending (completely verified and flipped) version recorded for it; the slot
 * the machine is running from must be byte-identical to its image.
 */
export async function checkBootAfterKill(machine: CrashMachine, lab: CrashLab): Promise<BootCheck> {
  const copy = join(machine.dir, 'disk-at-kill.img');
  await sparseCopy(machine.disk, copy);
  try {
    const tableTorn = !(await sgdiskClean(copy));
    const running = machine.meta.slotVersions[String(machine.booted)];
    const runningHash = await machine.slotSha256(machine.booted, lab.imageSizeBytes);
    if (running === undefined || lab.images.get(running) !== runningHash) {
      return { bootedPartition: undefined, tableTorn, valid: false, problem: `the running slot ${machine.booted} no longer holds ${running ?? 'its image'}` };
    }
    let partition: number;
    try {
      partition = (await bootSimulate(copy)).partition;
    } catch (e) {
      return { bootedPartition: undefined, tableTorn, valid: false, problem: `nothing bootable: ${(e as Error).message}` };
    }
    const allowed: string[] = [];
    const committed = machine.meta.slotVersions[String(partition)];
    if (committed) allowed.push(committed);
    const pending = (await machine.state())?.pendingUpdate;
    if (pending && pending.partition === partition) allowed.push(pending.version);
    const hash = await machine.slotSha256(partition, lab.imageSizeBytes, copy);
    const holds = [...lab.images].find(([, h]) => h === hash)?.[0];
    if (holds === undefined || !allowed.includes(holds)) {
      return {
        bootedPartition: partition,
        tableTorn,
        valid: false,
        problem: `boots partition ${partition}, which holds ${holds ?? 'no complete image'} (allowed: ${allowed.join(', ') || 'nothing'})`,
      };
    }
    return { bootedPartition: partition, tableTorn, valid: true };
  } finally {
    await rm(copy, { force: true });
  }
}

export interface Convergence {
  converged: boolean;
  /** target: on the target version, marked good; rolled-back: back on the old slot with the version given up; stuck: neither. */
  end: 'target' | 'rolled-back' | 'stuck';
  /** What happened, e.g. ["daemon 0", "reboot -> 4", "daemon 0"]. */
  steps: string[];
  /** sgdisk -v was clean after the first restart. */
  tableCleanAfterRestart: boolean;
  /** Daemon runs that exited non-zero. */
  failedRuns: number;
  problems: string[];
}

/**
 * Restarts the daemon (in-process, --once) and reboots whenever it left a flip pending, until the
 * machine runs `targetVersion` from a slot marked good, at most `maxDaemonRuns` runs. With
 * `allowRollback`, ending on the old slot with the target recorded as rolled back also counts (a
 * reboot after the crash used up the new slot's only try). Then checks the table, the slots' bytes.
 */
export async function convergeMachine(
  machine: CrashMachine,
  lab: CrashLab,
  targetVersion: string,
  options: { maxDaemonRuns?: number; allowRollback?: boolean } = {},
): Promise<Convergence> {
  const maxDaemonRuns = options.maxDaemonRuns ?? 3;
  const steps: string[] = [];
  const problems: string[] = [];
  let tableCleanAfterRestart = false;
  let failedRuns = 0;
  let end: Convergence['end'] = 'stuck';
  for (let run = 0; run < maxDaemonRuns && end === 'stuck'; run++) {
    const r = await machine.daemonOnce();
    steps.push(`daemon ${r.exitCode}${r.error ? ` ${r.error.code}` : ''}`);
    if (run === 0) tableCleanAfterRestart = await sgdiskClean(machine.disk);
    if (r.exitCode !== 0) {
      failedRuns += 1;
      problems.push(`daemon run ${run + 1} failed: ${r.error?.message ?? r.exitCode}`);
      continue;
    }
    if ((await machine.state())?.pendingUpdate) {
      steps.push(`reboot -> ${(await machine.reboot()).partition}`);
      continue;
    }
    const booted = await machine.slot(machine.booted);
    if (booted.successful && machine.version === targetVersion) end = 'target';
    else if (booted.successful && options.allowRollback && (await machine.state())?.failedVersions[targetVersion]?.code === 'ERR_ROLLBACK') end = 'rolled-back';
    else break;
  }
  if (end === 'stuck') problems.push(`not on ${targetVersion} marked good after ${steps.join(', ')}`);
  if (!(await sgdiskClean(machine.disk))) problems.push('sgdisk -v reports problems at the end');
  for (const [partition, version] of Object.entries(machine.meta.slotVersions)) {
    if ((await machine.slotSha256(Number(partition), lab.imageSizeBytes)) !== lab.images.get(version))
      problems.push(`partition ${partition} does not hold ${version}`);
  }
  if (await machine.checkpoint()) problems.push('a payload resume point was left behind');
  return { converged: end !== 'stuck' && problems.length === 0, end, steps, tableCleanAfterRestart, failedRuns, problems };
}
