// The crash bench (issue 10): hundreds of seeded SIGKILLs over the daemon cycle of three scenarios
// (fresh update, replacing a pending one, the post-boot cycle), some restarted after a reboot, then
// IO faults on the slot's write target and on a real tmpfs. Prints the tables for the closing note
// and writes bench/out/crash.json. As root, also SIGKILLs inside the post-install step (issue 15). Exit status 1 when any run lost data or needed manual help.
// Usage: node bin/run-ts.js bench/crash/run.ts [--seed 1009] [--kills 400] [--io-runs 12] [--lanes 2]
//        [--image-size 2M] [--download-bps 4M] [--reboot-every 3] [--install-runs 2]

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { buildCrashChild, CrashChildLauncher, type CrashChildBundle } from '../../test/helpers/crash-child-launcher.ts';
import { CrashLab, SCENARIOS, type ScenarioName } from '../../test/helpers/crash-lab.ts';
import { calibrate, runKillPoints, type CrashContext, type KillRecord } from '../../test/helpers/crash-run.ts';
import { planKillPoints, seededRandom } from '../../test/helpers/kill-points.ts';
import { IO_FAULT_KINDS, runIoFault, type IoFaultRecord } from './io-fault-runs.ts';
import { installRows, runInstallKills, type InstallKillRun } from './install-kill-runs.ts';
import { faultTable, ioRows, killRows, killSurvived, ioSurvived, landingTable, scenarioTable, totalRow } from './report.ts';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1009' },
    kills: { type: 'string', default: '400' },
    'io-runs': { type: 'string', default: '12' },
    lanes: { type: 'string', default: '2' },
    'image-size': { type: 'string', default: '2M' },
    'download-bps': { type: 'string', default: '4M' },
    'reboot-every': { type: 'string', default: '3' },
    'install-runs': { type: 'string', default: '2' },
  },
});
const seed = Number(args.seed);
const totalKills = Number(args.kills);
const ioRuns = Number(args['io-runs']);
const imageSizeBytes = parseSize(args['image-size'] as string);
const rebootEvery = Number(args['reboot-every']);
const BLOCK_BYTES = 64 * 1024;
/** Share of the kill points per scenario. */
const SHARE: Record<ScenarioName, number> = { fresh: 0.6, replace: 0.25, 'post-boot': 0.15 };
const log = (line = '') => process.stdout.write(`${line}\n`);

const root = await mkdtemp(join(tmpdir(), 'ue-crash-bench-'));
const lab = new CrashLab(root, { imageSizeBytes, blockSizeBytes: BLOCK_BYTES });
let lanes: CrashChildLauncher[] = [];
let bundle: CrashChildBundle | undefined;
const started = performance.now();
const kills: KillRecord[] = [];
const io: IoFaultRecord[] = [];
let install: InstallKillRun[] = [];
try {
  await lab.setUp();
  bundle = await buildCrashChild();
  const child = bundle.path;
  lanes = Array.from({ length: Number(args.lanes) }, () => new CrashChildLauncher(child));
  const ctx: CrashContext = { lab, launchers: lanes, workDir: join(root, 'runs'), downloadBytesPerSecond: args['download-bps'] as string };
  log(
    `crash bench: seed ${seed}, ${totalKills} kill points, image ${imageSizeBytes} bytes, DOWNLOAD_BPS ${ctx.downloadBytesPerSecond}, ${lanes.length} lanes, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}`,
  );
  for (const [i, scenario] of SCENARIOS.entries()) {
    const calibration = await calibrate(ctx, scenario, 3);
    const points = planKillPoints({ seed: seed + i, count: Math.round(totalKills * SHARE[scenario]), profile: calibration.profile, maxTimeFraction: 0.95 });
    log(
      `${scenario}: cycle ${calibration.durationMs} ms, ${calibration.profile.gptWrites} GPT writes, ${calibration.profile.bytesWritten} bytes; ${points.length} kill points`,
    );
    let n = 0;
    const records = await runKillPoints(ctx, scenario, points, {
      calibration,
      firstIndex: i * 100_000,
      rebootFirst: (k) => rebootEvery > 0 && k % rebootEvery === rebootEvery - 1,
      onRecord: (r) => {
        n += 1;
        if (!killSurvived(r) && r.end === 'killed')
          log(`  FAILED ${scenario} ${r.label}: ${[r.boot.problem, ...r.convergence.problems].filter(Boolean).join('; ')}`);
        if (n % 25 === 0) log(`  ${n}/${points.length}`);
      },
    });
    kills.push(...records);
  }
  const random = seededRandom(seed ^ 0x5eed);
  const isRoot = process.getuid?.() === 0;
  for (const kind of IO_FAULT_KINDS) {
    if (kind === 'enospc-tmpfs' && !isRoot) {
      log('enospc-tmpfs: skipped (needs root to mount a tmpfs)');
      continue;
    }
    for (let run = 0; run < ioRuns; run++) {
      const atBytes = kind === 'enospc-tmpfs' ? 128 * 1024 + Math.floor(random() * (imageSizeBytes - 256 * 1024)) : Math.floor(random() * imageSizeBytes);
      const machine = await lab.machine('fresh', join(root, 'io', `${kind}-${run}`));
      const record = await runIoFault(lab, machine, kind, atBytes, BLOCK_BYTES);
      if (!ioSurvived(record)) log(`  ${kind} at ${atBytes}: ${record.problems.join('; ')}`);
      io.push(record);
      await rm(machine.dir, { recursive: true, force: true });
    }
  }
  if (isRoot) install = await runInstallKills(Number(args['install-runs']), log);
  else log('post-install kills: skipped (needs root for loop devices, mount namespaces and FUSE)');
} finally {
  for (const l of lanes) await l.close();
  await lab.close();
  await bundle?.remove();
  await rm(root, { recursive: true, force: true });
}

const rows = [...killRows(kills), ...ioRows(io), ...(install.length > 0 ? installRows(install) : [])];
const total = totalRow(rows);
const seconds = Math.round((performance.now() - started) / 1000);
log();
log(`Faults injected (seed ${seed}, ${seconds} s):`);
log(faultTable([...rows, total]));
log();
log(scenarioTable(kills));
log();
log(landingTable(kills));
await mkdir('bench/out', { recursive: true });
await writeFile(
  'bench/out/crash.json',
  `${JSON.stringify({ seed, totalKills, imageSizeBytes, downloadBytesPerSecond: args['download-bps'], lanes: Number(args.lanes), seconds, rows, total, kills, io, install }, null, 1)}\n`,
);
log('\nwrote bench/out/crash.json');
process.exitCode = total.dataLost > 0 || total.manualHelp > 0 ? 1 : 0;
