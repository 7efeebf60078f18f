// Fleet benchmark of the circuit breaker: N machines (default 5; real daemons, own disk images and boot
// simulators) on a real etcd with max 1 holder; version 2.0.0 fails every health check. Measures how
// many machines booted it and how long the fleet took to stop after the first failure; then
// `locksmithctl resume 2.0.0` and a fixed 2.0.1, and how long all took to update. Writes
// bench/out/fleet-breaker.json (the timeline too) for bench/fleet/breaker-plot.ts.
//   node bin/run-ts.js bench/fleet/breaker.ts [--machines 5] [--reboot-ms 1000] [--health-ms 1000]
//   (how long a simulated reboot takes; how long the health check runs before it answers)

import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCli } from '../../test/helpers/cli.ts';
import { startEtcd } from '../../test/helpers/etcd.ts';
import { FleetScenario, type FleetEvent } from '../../test/helpers/fleet-scenario.ts';

const { values } = parseArgs({
  options: { machines: { type: 'string', default: '5' }, 'reboot-ms': { type: 'string', default: '1000' }, 'health-ms': { type: 'string', default: '1000' } },
});
const machines = Number(values.machines);
const rebootMs = Number(values['reboot-ms']);
const healthCheckMs = Number(values['health-ms']);
const BAD = '2.0.0';
const FIXED = '2.0.1';
const group = 'bench-breaker';

const first = (events: FleetEvent[], kind: FleetEvent['kind'], version?: string) =>
  events.find((e) => e.kind === kind && (version === undefined || e.version === version));
const last = (events: FleetEvent[], pick: (e: FleetEvent) => boolean) => events.filter(pick).at(-1);

const etcd = await startEtcd();
const dir = await mkdtemp(join(tmpdir(), 'ue-bench-breaker-'));
const fleet = new FleetScenario({
  dir,
  machines,
  initialVersion: '1.0.0',
  etcdEndpoints: etcd.endpoints,
  group,
  healthy: (_m, v) => v !== BAD,
  rebootMs,
  healthCheckMs,
});
const ctl = (...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);
try {
  await fleet.setUp();
  if ((await ctl('set-max', '1')).code !== 0) throw new Error('locksmithctl set-max failed');
  await fleet.publish(BAD);
  fleet.restartClock();
  const releasedMs = fleet.now();
  await fleet.settleAll();
  const stoppedMs = fleet.now();
  const phase1 = [...fleet.events];
  const healthFailure = first(phase1, 'health-failed', BAD);
  const recorded = first(phase1, 'rolled-back');
  // The fleet has stopped when the last machine holding 2.0.0 pending has undone it (or the victim is back, if later).
  const lastStop = last(phase1, (e) => e.kind === 'halted' || e.kind === 'rolled-back');
  await ctl('resume', BAD);
  const resumedMs = fleet.now();
  await fleet.publish(FIXED);
  await fleet.settleAll();
  const doneMs = fleet.now();
  const summary = {
    benchmark: 'fleet-breaker',
    date: new Date().toISOString(),
    machines,
    max: 1,
    rebootMs,
    healthCheckMs,
    bootedBadVersion: fleet.bootedEver(BAD).length,
    haltedWithPendingUndone: new Set(phase1.filter((e) => e.kind === 'halted').map((e) => e.machine)).size,
    deferredWithoutDownload: machines - new Set(phase1.filter((e) => e.kind === 'downloading').map((e) => e.machine)).size,
    firstHealthFailureMs: healthFailure?.atMs,
    failureRecordedMs: recorded?.atMs,
    fleetStoppedMs: lastStop?.atMs,
    stopAfterFirstFailureMs: healthFailure && lastStop ? lastStop.atMs - healthFailure.atMs : undefined,
    stopAfterRecordMs: recorded && lastStop ? lastStop.atMs - recorded.atMs : undefined,
    releasedMs: Math.round(releasedMs),
    phase1SettledMs: Math.round(stoppedMs),
    resumedMs: Math.round(resumedMs),
    allUpdatedMs: Math.round(doneMs),
    updatedToFixed: fleet.bootedEver(FIXED).length,
    events: fleet.events,
  };
  console.log(
    `fleet-breaker: ${machines} machines, max 1 holder, simulated reboots of ${rebootMs} ms, health checks of ${healthCheckMs} ms, ${BAD} fails its health check everywhere`,
  );
  console.log(
    `  machines that booted ${BAD}: ${summary.bootedBadVersion} (pending flips undone: ${summary.haltedWithPendingUndone}, deferred before downloading: ${summary.deferredWithoutDownload})`,
  );
  console.log(
    `  first health failure at ${summary.firstHealthFailureMs} ms, back on the old slot (fallback boot; the failure record follows in its post-boot run) at ${summary.failureRecordedMs} ms, fleet stopped at ${summary.fleetStoppedMs} ms`,
  );
  console.log(
    `  time from the first failure until the fleet had stopped: ${summary.stopAfterFirstFailureMs} ms (from the fallback boot: ${summary.stopAfterRecordMs} ms)`,
  );
  console.log(`  after resume + ${FIXED}: ${summary.updatedToFixed} of ${machines} updated in ${Math.round(doneMs - resumedMs)} ms`);
  mkdirSync(new URL('../out/', import.meta.url), { recursive: true });
  writeFileSync(new URL('../out/fleet-breaker.json', import.meta.url), `${JSON.stringify(summary, null, 2)}\n`);
  if (summary.bootedBadVersion !== 1 || summary.updatedToFixed !== machines) process.exitCode = 1;
} finally {
  await fleet.close();
  await etcd.stop();
  await rm(dir, { recursive: true, force: true });
}
