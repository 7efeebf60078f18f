// Runs kill points against the crash lab: calibrates a scenario with one uninterrupted child cycle,
// then, per kill point, clones the starting machine, runs the daemon in a child killed at that
// point, checks what would boot, and restarts (optionally after a reboot) until it converges.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBootAfterKill, convergeMachine, type BootCheck, type Convergence } from './crash-checks.ts';
import type { CrashChildLauncher } from './crash-child-launcher.ts';
import type { CrashLab, ScenarioName } from './crash-lab.ts';
import type { CrashMachine } from './crash-machine.ts';
import type { ChildRunSpec, ChildStats } from './crash-protocol.ts';
import { describeKillPoint, type CycleProfile, type KillPoint } from './kill-points.ts';

export interface CrashContext {
  lab: CrashLab;
  /** One launcher per lane: runs of a lane are sequential, lanes run side by side. */
  launchers: CrashChildLauncher[];
  workDir: string;
  /** DOWNLOAD_BPS for the killed cycle, so that time points land inside the download (e.g. "4M"). */
  downloadBytesPerSecond: string;
}

export interface Calibration {
  profile: CycleProfile;
  durationMs: number;
}

export interface KillRecord {
  scenario: ScenarioName;
  point: KillPoint;
  label: string;
  /** Reboot the machine between the kill and the restart (a crash followed by a power cycle). */
  rebootFirst: boolean;
  /** 'killed': the fault was injected; 'finished': the cycle ended before the kill point. */
  end: 'killed' | 'finished';
  /** The last status the child reported before the kill (undefined: killed before the first change). */
  statusAtKill: string | undefined;
  boot: BootCheck;
  convergence: Convergence;
  /** A slot that boots with content it must not have, nothing bootable, or a damaged running slot. */
  dataLost: boolean;
  /** The daemon did not get back to a good state by itself. */
  manualHelp: boolean;
}

async function childSpec(machine: CrashMachine, ctx: CrashContext, kill?: KillPoint): Promise<ChildRunSpec> {
  return {
    type: 'run',
    settingsInput: machine.settingsInput({ downloadBytesPerSecond: ctx.downloadBytesPerSecond }),
    identityPaths: machine.identityPaths(),
    disk: machine.disk,
    regions: await machine.tableRegions(),
    ...(kill && kill.kind !== 'time' ? { kill } : {}),
  };
}

/**
 * Uninterrupted cycles of the scenario in a child: what happens in one, and how long the fastest
 * took (time-based kill points are fractions of it, so that few land after the cycle's end).
 */
export async function calibrate(ctx: CrashContext, scenario: ScenarioName, runs = 1): Promise<Calibration> {
  const launcher = ctx.launchers[0];
  if (!launcher) throw new Error('No crash child launcher');
  let result: Calibration | undefined;
  for (let i = 0; i < runs; i++) {
    const machine = await ctx.lab.machine(scenario, join(ctx.workDir, `${scenario}-calibration-${i}`));
    try {
      const outcome = await launcher.run(await childSpec(machine, ctx));
      const done = outcome.done;
      if (outcome.end !== 'finished' || !done || done.exitCode !== 0) {
        throw new Error(`Calibration of "${scenario}" failed: ${outcome.exitCode ?? outcome.signal} ${done?.errorMessage ?? ''} ${outcome.stderr}`);
      }
      const stats: ChildStats = done.stats;
      const durationMs = Math.min(stats.durationMs, result?.durationMs ?? Number.POSITIVE_INFINITY);
      result = { profile: result?.profile ?? { statuses: stats.statuses, gptWrites: stats.gptWrites, bytesWritten: stats.bytesWritten }, durationMs };
    } finally {
      await rm(machine.dir, { recursive: true, force: true });
    }
  }
  if (!result) throw new Error('Calibration needs at least one run');
  return result;
}

/** Kills one cycle at `point` and checks boot and convergence. */
export async function runKillPoint(
  ctx: CrashContext,
  launcher: CrashChildLauncher,
  scenario: ScenarioName,
  point: KillPoint,
  options: { index: number; calibration: Calibration; rebootFirst?: boolean },
): Promise<KillRecord> {
  const machine = await ctx.lab.machine(scenario, join(ctx.workDir, `${scenario}-${options.index}`));
  try {
    const killAfterMs = point.kind === 'time' ? Math.round(point.fraction * options.calibration.durationMs) : undefined;
    const outcome = await launcher.run(await childSpec(machine, ctx, point), killAfterMs);
    const boot = await checkBootAfterKill(machine, ctx.lab);
    const childFailed = outcome.end === 'finished' && outcome.exitCode !== 0;
    const rebootFirst = options.rebootFirst === true;
    if (rebootFirst) await machine.reboot();
    // A reboot before the restart may use up a new slot's only try: the bootloader then falls back, which is the design.
    const convergence = await convergeMachine(machine, ctx.lab, (await ctx.lab.scenario(scenario)).targetVersion, { allowRollback: rebootFirst });
    if (childFailed) convergence.problems.push(`the cycle failed by itself: ${outcome.done?.errorMessage ?? outcome.stderr}`);
    return {
      scenario,
      point,
      label: describeKillPoint(point),
      rebootFirst,
      end: outcome.end,
      statusAtKill: outcome.lastStatus,
      boot,
      convergence,
      dataLost: !boot.valid,
      manualHelp: !convergence.converged || childFailed,
    };
  } finally {
    await rm(machine.dir, { recursive: true, force: true });
  }
}

/** Runs the points side by side, one lane per launcher; records come back in plan order. */
export async function runKillPoints(
  ctx: CrashContext,
  scenario: ScenarioName,
  points: readonly KillPoint[],
  options: { calibration: Calibration; rebootFirst?: (index: number) => boolean; firstIndex?: number; onRecord?: (r: KillRecord) => void },
): Promise<KillRecord[]> {
  const records: KillRecord[] = new Array<KillRecord>(points.length);
  let next = 0;
  const lane = async (launcher: CrashChildLauncher): Promise<void> => {
    while (next < points.length) {
      const i = next++;
      const record = await runKillPoint(ctx, launcher, scenario, points[i] as KillPoint, {
        index: (options.firstIndex ?? 0) + i,
        calibration: options.calibration,
        rebootFirst: options.rebootFirst?.(i) ?? false,
      });
      records[i] = record;
      options.onRecord?.(record);
    }
  };
  await Promise.all(ctx.launchers.map(lane));
  return records;
}
