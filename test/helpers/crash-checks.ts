// The checks after a crash: which slot the bootloader would boot right now (on a copy of the disk)
// and whether that slot's bytes are an image it may hold; and whether restarts of the daemon (and
// the reboots it asks for) bring the machine to the target version with no manual help.

import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bootSimulate } from '../../src/slots/index.ts';
import type { CrashLab } from './crash-lab.ts';
import type { CrashMachine } from './crash-machine.ts';
import { sgdiskVerify } from './disk-image.ts';

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
  execFileSync('cp', ['--sparse=always', machine.disk, copy]);
  try {
    const tableTorn = !sgdiskVerify(copy).ok;
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
      return { bootedPartition: partition, tableTorn, valid: false, problem: `boots partition ${partition}, which holds ${holds ?? 'no complete image'} (allowed: ${allowed.join(', ') || 'nothing'})` };
    }
    return { bootedPartition: partition, tableTorn, valid: true };
  } finally {
    await rm(copy, { force: true });
  }
}

export interface Convergence {
  converged: boolean;
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
 * machine runs `targetVersion` from a slot marked good, at most `maxDaemonRuns` runs. Then checks
 * the table, the target slot's bytes, and that the other slot still holds its version.
 */
export async function convergeMachine(machine: CrashMachine, lab: CrashLab, targetVersion: string, maxDaemonRuns = 3): Promise<Convergence> {
  const steps: string[] = [];
  const problems: string[] = [];
  let tableCleanAfterRestart = false;
  let failedRuns = 0;
  let converged = false;
  for (let run = 0; run < maxDaemonRuns && !converged; run++) {
    const r = await machine.daemonOnce();
    steps.push(`daemon ${r.exitCode}${r.error ? ` ${r.error.code}` : ''}`);
    if (run === 0) tableCleanAfterRestart = sgdiskVerify(machine.disk).ok;
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
    converged = machine.version === targetVersion && booted.successful;
    if (!converged) break;
  }
  if (!converged) problems.push(`not on ${targetVersion} marked good after ${steps.join(', ')}`);
  if (!sgdiskVerify(machine.disk).ok) problems.push('sgdisk -v reports problems at the end');
  for (const [partition, version] of Object.entries(machine.meta.slotVersions)) {
    if ((await machine.slotSha256(Number(partition), lab.imageSizeBytes)) !== lab.images.get(version)) problems.push(`partition ${partition} does not hold ${version}`);
  }
  if (await machine.checkpoint()) problems.push('a payload resume point was left behind');
  return { converged: converged && problems.length === 0, steps, tableCleanAfterRestart, failedRuns, problems };
}
