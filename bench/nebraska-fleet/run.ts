// Fleet benchmark against a server that behaves like Nebraska (test/helpers/nebraska-model.ts): N lab
// machines (default 5), each the real daemon run as a timer would (--once), its own disk image and
// boot simulator, a limit of M concurrent updates (default 2). Prints and writes bench/out/nebraska-fleet.json:
// the time until all are "complete" on the server, the daemon runs, the refusals, and the event sequence
// per app id as Nebraska records it.
//   node bin/run-ts.js bench/nebraska-fleet/run.ts [--machines 5] [--max 2] [--rounds 3] [--pause-ms 20] [--flatcar-app-id]

import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runNebraskaFleet } from '../../test/helpers/nebraska-fleet.ts';

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '5' },
    max: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'pause-ms': { type: 'string', default: '20' },
  },
});

const machines = Number(values.machines);
const max = Number(values.max);
const runs: Array<{ allCompleteMs: number; daemonRuns: number; refusals: number; maxInProgressSeen: number }> = [];
let sequences: Record<string, { events: string[]; statuses: string[] }> = {};
for (let round = 0; round < Number(values.rounds); round++) {
  const dir = await mkdtemp(join(tmpdir(), 'ue-bench-nebraska-'));
  try {
    const fleet = await runNebraskaFleet({
      dir,
      machines,
      policy: { updatesEnabled: true, safeMode: false, maxUpdatesPerPeriod: max, periodMs: 0, updateTimeoutMs: 3_600_000 },
      checkPauseMs: Number(values['pause-ms']),
    });
    const complete = fleet.machineIds.filter((id) => fleet.model.instance(id)?.status === 4).length;
    if (complete !== machines) throw new Error(`only ${complete} of ${machines} machines complete`);
    runs.push({
      allCompleteMs: fleet.allCompleteMs,
      daemonRuns: fleet.daemonRuns,
      refusals: fleet.model.refusals.length,
      maxInProgressSeen: fleet.model.maxInProgressSeen,
    });
    sequences = Object.fromEntries(fleet.machineIds.map((id) => [id, fleet.model.timeline(id)]));
    console.log(
      `round ${round + 1}: ${machines} machines, max ${max} concurrent: all complete in ${fleet.allCompleteMs} ms (${fleet.daemonRuns} daemon runs, ${fleet.model.refusals.length} refusals, at most ${fleet.model.maxInProgressSeen} in progress)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const sorted = runs.map((r) => r.allCompleteMs).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] as number;
console.log(
  `${machines} machines, max ${max} concurrent: time to all complete, median ${median} ms (min ${sorted[0]}, max ${sorted.at(-1)}) over ${runs.length} rounds`,
);
console.log('event sequence per machine (as Nebraska records it, last round):');
for (const [id, seq] of Object.entries(sequences)) console.log(`  ${id}: events ${seq.events.join(' ')} | statuses ${seq.statuses.join(' > ')}`);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/nebraska-fleet.json', `${JSON.stringify({ machines, max, runs, medianAllCompleteMs: median, sequences }, null, 2)}\n`);
