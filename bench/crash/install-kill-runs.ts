// The crash bench's post-install rows (issue 15, root only): SIGKILLs of the daemon inside the
// post-install step (after each MiB of the kernel copy, after its rename, while /postinst runs) on a
// squashfs slot with a FAT32 ESP, each followed by a boot, the checks and a restart that must finish.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeInstallKill,
  INSTALL_KILL_POINTS,
  InstallCrashMachine,
  installKillSurvived,
  type InstallKillRecord,
} from '../../test/helpers/install-crash.ts';
import type { FaultRow } from './report.ts';

export interface InstallKillRun extends InstallKillRecord {
  problems: string[];
  dirtyBit: boolean;
}

/** `runsPerPoint` runs of every kill point, each on a fresh machine. */
export async function runInstallKills(runsPerPoint: number, log: (line: string) => void): Promise<InstallKillRun[]> {
  const records: InstallKillRun[] = [];
  for (const point of INSTALL_KILL_POINTS) {
    for (let run = 0; run < runsPerPoint; run++) {
      const dir = await mkdtemp(join(tmpdir(), 'ue-install-kill-'));
      const machine = new InstallCrashMachine(dir);
      try {
        await machine.setUp();
        const record = await machine.killAndCheck(point);
        const full = { ...record, problems: [...machine.problems], dirtyBit: machine.dirtyBitRuns > 0 };
        if (!installKillSurvived(record)) log(`  FAILED post-install ${describeInstallKill(point)}: ${JSON.stringify({ ...full, point: undefined })}`);
        records.push(full);
      } finally {
        await machine.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return records;
}

const GROUPS: { fault: string; match: (r: InstallKillRecord) => boolean }[] = [
  { fault: 'SIGKILL in the post-install kernel copy (after a MiB, after the rename)', match: (r) => r.point.kind !== 'postinst' },
  { fault: "SIGKILL while the new image's /postinst runs", match: (r) => r.point.kind === 'postinst' },
];

/** "Lost data": A did not boot or vmlinuz-a changed or the ESP is damaged; "manual help": the restart did not finish by itself. */
export function installRows(records: readonly InstallKillRecord[]): FaultRow[] {
  return GROUPS.map(({ fault, match }) => {
    const of = records.filter(match);
    return {
      fault,
      runs: of.length,
      injected: of.filter((r) => r.killed).length,
      survivors: of.filter(installKillSurvived).length,
      dataLost: of.filter((r) => r.bootedPartition !== 3 || !r.kernelAIntact || !r.espClean).length,
      manualHelp: of.filter((r) => !r.converged || !r.kernelBExact || r.bootedAfter !== 4 || r.loopsLeft > 0 || r.postinstLeft > 0).length,
    };
  });
}
