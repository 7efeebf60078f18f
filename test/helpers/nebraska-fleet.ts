// A fleet of lab machines (each its own disk image, state and boot simulator) running the real
// daemon (--once, as a timer would) against one Omaha server that behaves like Nebraska
// (nebraska-model.ts). Shared by the fleet test and bench/nebraska-fleet.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDaemon } from '../../src/daemon/main.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { startDevServer, type DevServer } from '../../src/omaha/dev-server.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { NebraskaModel, STATUS, type GroupPolicy } from './nebraska-model.ts';

export const FLEET_APP_ID = '{4d3c2f2a-9b8e-4a1c-8f5e-2b7d6c1a9e30}';

export interface FleetOptions {
  dir: string;
  machines: number;
  policy: GroupPolicy;
  fromVersion?: string;
  toVersion?: string;
  /** Pause between a machine's checks (the cadence, compressed); default 20 ms. */
  checkPauseMs?: number;
  /** Give up after this many daemon runs per machine; default 60. */
  maxRunsPerMachine?: number;
}

export interface FleetResult {
  model: NebraskaModel;
  labs: UpdateLab[];
  machineIds: string[];
  /** Wall time from the first check to the last machine "complete" on the server. */
  allCompleteMs: number;
  daemonRuns: number;
  exitCodes: number[];
}

export async function runNebraskaFleet(options: FleetOptions): Promise<FleetResult> {
  const from = options.fromVersion ?? '1.0.0';
  const to = options.toVersion ?? '2.0.0';
  const labs: UpdateLab[] = [];
  for (let i = 0; i < options.machines; i++) {
    const lab = new UpdateLab({ dir: join(options.dir, `m${i}`), initialVersion: from, usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 });
    await lab.setUp();
    labs.push(lab);
  }
  const payload = await (labs[0] as UpdateLab).addPayload(to);
  const model = new NebraskaModel({ appId: FLEET_APP_ID, track: 'stable', packageVersion: () => to, policy: options.policy });
  let server: DevServer | undefined;
  try {
    server = await startDevServer({ payloads: await loadDevPayloads([payload.path]), decide: (app) => model.answer(app) });
    const url = server.updateUrl;
    const machineIds = await Promise.all(labs.map(async (lab) => (await readFile(lab.identityPaths().machineId, 'utf8')).trim()));
    const exitCodes: number[] = [];
    let daemonRuns = 0;
    const started = Date.now();
    let lastComplete = started;
    const runMachine = async (lab: UpdateLab, machineId: string) => {
      for (let run = 0; run < (options.maxRunsPerMachine ?? 60); run++) {
        daemonRuns++;
        const code = await runDaemon(lab.settings({ server: url, appId: FLEET_APP_ID }), {
          once: true,
          logger: silentLogger(),
          signal: new AbortController().signal,
          identityPaths: lab.identityPaths(),
          overrides: { rebooter: new RecordingRebooter() },
        }).catch(() => 1);
        exitCodes.push(code);
        const state = JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as { pendingUpdate?: unknown };
        if (state.pendingUpdate) {
          await lab.reboot();
          continue;
        }
        if (model.instance(machineId)?.status === STATUS.complete && lab.slotVersions.get(lab.booted) === to) {
          lastComplete = Date.now();
          return;
        }
        await new Promise((r) => setTimeout(r, options.checkPauseMs ?? 20));
      }
    };
    await Promise.all(labs.map((lab, i) => runMachine(lab, machineIds[i] as string)));
    return { model, labs, machineIds, allCompleteMs: lastComplete - started, daemonRuns, exitCodes };
  } finally {
    await server?.close();
    for (const lab of labs) await lab.close();
  }
}
