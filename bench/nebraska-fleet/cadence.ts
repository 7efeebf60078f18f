// The fleet figure with the real check cadence, in virtual time: N lab machines run the real daemon
// (not --once: its own scheduler, 7 min +/- 5 after start, then 45 min +/- 5) on a shared FakeClock,
// against the Nebraska model (max M concurrent, Nebraska's default 15 min period and 60 min update
// timeout). A reboot restarts the machine's daemon on the new slot at once (boot time not counted).
// Prints the virtual time until every machine is "complete" on the server.
//   node bin/run-ts.js bench/nebraska-fleet/cadence.ts [--machines 5] [--max 2] [--rounds 5]

import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runDaemon } from '../../src/daemon/main.ts';
import type { UpdateEngine } from '../../src/daemon/engine.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { startDevServer } from '../../src/omaha/dev-server.ts';
import { createLogger, silentLogger } from '../../src/platform/logger.ts';
import { FakeClock, flushMicrotasks } from '../../test/fakes/fake-clock.ts';
import { FLEET_APP_ID } from '../../test/helpers/nebraska-fleet.ts';
import { NebraskaModel, STATUS } from '../../test/helpers/nebraska-model.ts';

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '5' },
    max: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    verbose: { type: 'boolean', default: false },
  },
});
const MIN = 60_000;

interface Machine {
  lab: UpdateLab;
  id: string;
  engine?: UpdateEngine | undefined;
  stop?: AbortController;
  running?: Promise<number>;
  rebootAsked: boolean;
}

async function round(machines: number, max: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ue-bench-cadence-'));
  const clock = new FakeClock();
  const start = clock.now();
  const fleet: Machine[] = [];
  try {
    for (let i = 0; i < machines; i++) {
      const lab = new UpdateLab({ dir: join(dir, `m${i}`), initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 });
      await lab.setUp();
      fleet.push({ lab, id: (await readFile(lab.identityPaths().machineId, 'utf8')).trim(), rebootAsked: false });
    }
    const payload = await (fleet[0] as Machine).lab.addPayload('2.0.0');
    const model = new NebraskaModel({
      appId: FLEET_APP_ID,
      track: 'stable',
      packageVersion: () => '2.0.0',
      policy: { updatesEnabled: true, safeMode: false, maxUpdatesPerPeriod: max, periodMs: 15 * MIN, updateTimeoutMs: 60 * MIN },
      now: () => clock.now(),
    });
    const server = await startDevServer({ payloads: await loadDevPayloads([payload.path]), decide: (app) => model.answer(app) });
    const boot = (m: Machine) => {
      m.engine = undefined;
      m.stop = new AbortController();
      m.rebootAsked = false;
      m.running = runDaemon(m.lab.settings({ server: server.updateUrl, appId: FLEET_APP_ID, rebootStrategy: 'reboot' }), {
        once: false,
        clock,
        logger: values.verbose ? createLogger({ level: 'warn', pretty: false, name: m.id.slice(0, 6) }) : silentLogger(),
        signal: m.stop.signal,
        identityPaths: m.lab.identityPaths(),
        onEngine: (e) => (m.engine = e),
        overrides: { rebooter: { reboot: async () => void (m.rebootAsked = true) } },
      });
    };
    /** Real time passes while daemons start; virtual time must not: wait until every scheduler sleeps. */
    const settle = async () => {
      for (let spins = 0; spins < 2000; spins++) {
        if (fleet.every((m) => m.engine && !m.engine.isBusy) && clock.pendingSleeps >= fleet.length) return;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error('the daemons did not settle');
    };
    fleet.forEach(boot);
    await settle();
    const done = () => fleet.every((m) => model.instance(m.id)?.status === STATUS.complete);
    let lastComplete = start;
    let seenHistory = 0;
    let seenRefusals = 0;
    while (!done() && clock.now() - start < 24 * 60 * MIN) {
      await clock.advance(MIN);
      // Let the checks and updates this minute started run to their end (real time; virtual time stands still).
      for (let spins = 0; spins < 2000 && fleet.some((m) => m.engine?.isBusy); spins++) await new Promise((r) => setTimeout(r, 5));
      await flushMicrotasks();
      for (const m of fleet) {
        if (!m.rebootAsked) continue;
        m.stop?.abort();
        await m.running;
        await m.lab.reboot();
        boot(m);
      }
      await settle();
      if (done()) lastComplete = clock.now();
      if (values.verbose && (model.history.length !== seenHistory || model.refusals.length !== seenRefusals)) {
        const minute = Math.round((clock.now() - start) / MIN);
        for (const h of model.history.slice(seenHistory)) console.log(`  ${minute} min: ${h.machineId.slice(0, 6)} ${h.status}`);
        for (const r of model.refusals.slice(seenRefusals)) console.log(`  ${minute} min: ${r.machineId.slice(0, 6)} refused ${r.reason}`);
        seenHistory = model.history.length;
        seenRefusals = model.refusals.length;
      }
    }
    for (const m of fleet) {
      m.stop?.abort();
      await m.running?.catch(() => undefined);
    }
    await server.close();
    if (!done()) throw new Error('not every machine completed within 24 h of virtual time');
    if (model.maxInProgressSeen > max) throw new Error(`${model.maxInProgressSeen} in progress at once`);
    return lastComplete - start;
  } finally {
    for (const m of fleet) await m.lab.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: number[] = [];
for (let i = 0; i < Number(values.rounds); i++) {
  const ms = await round(Number(values.machines), Number(values.max));
  results.push(ms);
  console.log(`round ${i + 1}: all complete after ${(ms / MIN).toFixed(0)} min (virtual)`);
}
results.sort((a, b) => a - b);
console.log(
  `${values.machines} machines, max ${values.max} concurrent, real cadence: time to all complete, median ${((results[Math.floor(results.length / 2)] as number) / MIN).toFixed(0)} min (min ${((results[0] as number) / MIN).toFixed(0)}, max ${((results.at(-1) as number) / MIN).toFixed(0)}) over ${results.length} rounds`,
);
