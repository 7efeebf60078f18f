// One real daemon (--once) on an image file against a server that behaves like Nebraska
// (test/helpers/nebraska-model.ts): rollout refusals are "no update now" with nothing remembered
// and the normal cadence next; an update the server counts in progress is ended with 3/0; server and
// configuration errors name the setting and slow the checks; the request carries the OEM release.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngineMetrics } from '../../src/daemon/metrics.ts';
import { checkOutcomeOf, runDaemon } from '../../src/daemon/main.ts';
import { CADENCE, cadenceInputOf, planNextCheck } from '../../src/daemon/scheduler.ts';
import type { UpdateEngine } from '../../src/daemon/engine.ts';
import type { CycleOutcome } from '../../src/daemon/update-cycle.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { startDevServer, type DevServer } from '../../src/omaha/dev-server.ts';
import type { ReceivedApp } from '../../src/omaha/request-parser.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { FLEET_APP_ID } from '../helpers/nebraska-fleet.ts';
import { FLATCAR_APP_ID, NebraskaModel, STATUS, type GroupPolicy } from '../helpers/nebraska-model.ts';

let dir: string;
let lab: UpdateLab;
let server: DevServer | undefined;
let model: NebraskaModel;
let machineId: string;
const requests: ReceivedApp[] = [];
const policy = (p: Partial<GroupPolicy> = {}): GroupPolicy => ({
  updatesEnabled: true,
  safeMode: false,
  maxUpdatesPerPeriod: 900000,
  periodMs: 3_600_000,
  updateTimeoutMs: 3_600_000,
  ...p,
});

async function serveNebraska(p: GroupPolicy, appId = FLEET_APP_ID): Promise<void> {
  await server?.close();
  model = new NebraskaModel({ appId, track: 'stable', packageVersion: () => lab.payloads.at(-1)?.version, policy: p });
  server = await startDevServer({
    payloads: await loadDevPayloads(lab.payloads.map((x) => x.path)),
    decide: (app) => {
      requests.push(app);
      return model.answer(app);
    },
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-nebraska-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  machineId = (await readFile(lab.identityPaths().machineId, 'utf8')).trim();
  requests.length = 0;
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

async function once(
  extra: Record<string, string> = {},
  hooks: { metrics?: ReturnType<typeof createEngineMetrics>; signal?: AbortSignal; onEngine?: (e: UpdateEngine) => void; appId?: string } = {},
): Promise<{ code: number | string; engine: UpdateEngine | undefined }> {
  let engine: UpdateEngine | undefined;
  const code = await runDaemon(lab.settings({ server: server!.updateUrl, appId: hooks.appId ?? FLEET_APP_ID, ...extra }), {
    once: true,
    logger: silentLogger(),
    signal: hooks.signal ?? new AbortController().signal,
    identityPaths: { ...lab.identityPaths(), oemRelease: [join(dir, 'oem-release')] },
    onEngine: (e) => {
      engine = e;
      hooks.onEngine?.(e);
    },
    overrides: { rebooter: new RecordingRebooter(), ...(hooks.metrics ? { metrics: hooks.metrics.metrics } : {}) },
  }).catch((e: unknown) => (e instanceof UpdateEngineError ? e.code : 'thrown'));
  return { code, engine };
}

const state = async () => JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as Record<string, unknown>;

describe('a rollout refusal is "no update now"', () => {
  it('IDLE, nothing counted or remembered, no event, a metric by reason, the normal cadence next; the next grant is taken', async () => {
    await serveNebraska(policy({ updatesEnabled: false }));
    const metrics = createEngineMetrics({ settings: lab.settings(), processMetrics: false });
    const run = await once({}, { metrics });
    expect(run.code).toBe(0);
    expect(run.engine?.machine.snapshot()).toMatchObject({
      status: 'UPDATE_STATUS_IDLE',
      lastError: null,
      checkNote: expect.stringContaining('error-updatesDisabled'),
    });
    expect(await state()).toMatchObject({ failureCount: 0, failedVersions: {}, pendingEvents: [] });
    expect((await state()).backoffUntilMs).toBeUndefined();
    expect(requests.flatMap((a) => a.events)).toEqual([]);
    expect(model.refusals).toEqual([{ machineId, reason: 'error-updatesDisabled' }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('update_engine_check_refusals_total{reason="error-updatesDisabled"} 1');
    expect(text).toContain('update_engine_checks_total{result="refused"} 1');
    expect(text).toContain('update_engine_errors_total{code="ERR_OMAHA_SERVER_ERROR"} 0');
    // The next check at the normal cadence: 45 min +/- 5, not a backoff.
    const refused: CycleOutcome = { kind: 'refused', reason: 'error-updatesDisabled', explanation: '' };
    const next = planNextCheck(cadenceInputOf(CADENCE.periodicIntervalMs, checkOutcomeOf(refused)), () => 0.999);
    expect(next.intervalMs).toBe(45 * 60_000);
    expect(next.delayMs).toBeLessThanOrEqual(50 * 60_000);

    model.options.policy.updatesEnabled = true;
    expect((await once()).code).toBe(0);
    expect(model.timeline(machineId)).toEqual({ events: ['13/1', '14/1', '800/1'], statuses: ['updateGranted', 'downloading', 'downloaded', 'installed'] });
  });

  it('while a reboot is pending the server says the update is in progress: the flip stays, nothing is sent', async () => {
    await serveNebraska(policy());
    expect((await once()).code).toBe(0);
    requests.length = 0;
    const run = await once();
    expect(run.code).toBe(0);
    expect(model.refusals.map((r) => r.reason)).toEqual(['error-updateInProgressOnInstance']);
    expect(requests.flatMap((a) => a.events)).toEqual([]);
    expect(run.engine?.machine.status).toBe('UPDATE_STATUS_UPDATED_NEED_REBOOT');
    expect(model.instance(machineId)?.status).toBe(STATUS.installed);
  });
});

describe('no grant is left in progress on the server', () => {
  it('a restart during the download: the server still says "downloading"; the daemon ends it with 3/0 and the next check is granted again', async () => {
    await serveNebraska(policy());
    const stop = new AbortController();
    const first = await once(
      { downloadBytesPerSecond: '1M' },
      {
        signal: stop.signal,
        onEngine: (e) =>
          e.machine.onChange((s) => {
            if (s.status === 'UPDATE_STATUS_DOWNLOADING' && s.progress > 0.2) stop.abort(new UpdateEngineError('ERR_ABORTED', 'test stop'));
          }),
      },
    );
    expect(first.code).toBe('ERR_ABORTED');
    expect(model.instance(machineId)?.status).toBe(STATUS.downloading);
    expect((await once()).code).toBe(0); // in progress on the server, not here: 3/0 ends it
    expect(model.instance(machineId)).toMatchObject({ status: STATUS.error, updateInProgress: false });
    expect((await once()).code).toBe(0); // granted again; the download resumes
    expect(model.instance(machineId)?.status).toBe(STATUS.installed);
    await lab.reboot();
    expect((await once()).code).toBe(0);
    expect(model.instance(machineId)).toMatchObject({ status: STATUS.complete, version: '2.0.0', updateInProgress: false });
    expect(model.timeline(machineId).events).toEqual(['13/1', '3/0(1)', '13/1', '14/1', '800/1', '3/2']);
  });

  it('a rollback: 3/0 44 once; each later grant of that version is ended with 3/0 40, never left "granted"', async () => {
    await serveNebraska(policy());
    expect((await once()).code).toBe(0);
    await lab.reboot(); // B, one try
    await lab.reboot(); // never marked good: back to A
    expect((await once()).code).toBe(0);
    expect(model.timeline(machineId).events).toEqual(['13/1', '14/1', '800/1', '3/0(44)', '3/0(40)']);
    expect(model.instance(machineId)).toMatchObject({ status: STATUS.error, updateInProgress: false, version: '1.0.0' });
  });
});

describe('events for a Flatcar app id too', () => {
  it('800/1 installed, then 3/2 with the previous version after the good boot: complete only then', async () => {
    await serveNebraska(policy(), `{${FLATCAR_APP_ID}}`);
    expect((await once({}, { appId: `{${FLATCAR_APP_ID}}` })).code).toBe(0);
    expect(model.instance(machineId, FLATCAR_APP_ID)?.status).toBe(STATUS.installed);
    await lab.reboot();
    expect((await once({}, { appId: `{${FLATCAR_APP_ID}}` })).code).toBe(0);
    expect(model.timeline(machineId)).toEqual({
      events: ['13/1', '14/1', '800/1', '3/2'],
      statuses: ['updateGranted', 'downloading', 'downloaded', 'installed', 'complete'],
    });
  });
});

describe('configuration and server errors', () => {
  it('an unknown app id: a clear error naming APP_ID and GROUP, the checks slow down, no offer is ever deferred for it', async () => {
    await serveNebraska(policy());
    const run = await once({ appId: '{0000}' }, { appId: '{0000}' });
    expect(run.code).toBe('ERR_OMAHA_SERVER_ERROR');
    expect(model.refusals).toEqual([{ machineId, reason: 'error-failedToRetrieveUpdatePackageInfo' }]);
    expect((await state()).backoffUntilMs).toBeUndefined();
    const failed: CycleOutcome = { kind: 'failed', error: new UpdateEngineError('ERR_OMAHA_SERVER_ERROR', 'x'), checkFailed: true };
    expect(checkOutcomeOf(failed)).toEqual({ backoff: true });
    expect(planNextCheck(cadenceInputOf(90 * 60_000, checkOutcomeOf(failed)), () => 0.5).intervalMs).toBe(180 * 60_000);
    expect(planNextCheck(cadenceInputOf(180 * 60_000, checkOutcomeOf(failed)), () => 0.5).intervalMs).toBe(4 * 3_600_000);
    // Fixed: the next check is granted and taken at once.
    expect((await once()).code).toBe(0);
    expect(model.instance(machineId)?.status).toBe(STATUS.installed);
  });
});

it('with no SERVER the daemon says in one line where to set it', async () => {
  const lines: string[] = [];
  const { Writable } = await import('node:stream');
  const { createLogger } = await import('../../src/platform/logger.ts');
  const logger = createLogger({
    pretty: false,
    destination: new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    }),
  });
  const code = await runDaemon(lab.settings({ server: 'disabled' }), {
    once: true,
    logger,
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  });
  expect(code).toBe(0);
  expect(lines.map((l) => JSON.parse(l) as { msg: string; level: number }).filter((l) => l.msg.startsWith('SERVER is not set'))).toEqual([
    expect.objectContaining({ level: 40, msg: expect.stringContaining('set SERVER=https://HOST/v1/update/ (your Nebraska) in /etc/flatcar/update.conf') }),
  ]);
});

it('the request carries oem and oemversion from the OEM release file', async () => {
  await writeFile(join(dir, 'oem-release'), 'ID=vmware\nVERSION_ID=11.2.5\nNAME="VMware"\n');
  await serveNebraska(policy({ updatesEnabled: false }));
  expect((await once()).code).toBe(0);
  expect(requests.map((a) => [a.oem, a.oemVersion])).toEqual([['vmware', '11.2.5']]);
});
