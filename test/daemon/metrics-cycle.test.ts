// The metrics after real daemon cycles on the update lab (image file, local Omaha server, signed
// payloads): bytes written equal the image, downloaded equal the payload, status, check, errors.

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab, TEST_KEYS_DIR } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { createEngineMetrics, type EngineMetricsHandle } from '../../src/daemon/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../src/daemon/metrics-server.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { samplesOf, scrape, sampleValue, type Exposition } from './metrics-scrape.ts';

const IMAGE_BYTES = 6 * 1024 * 1024;
let dir: string;
let lab: UpdateLab;
let server: MetricsServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-metrics-cycle-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: IMAGE_BYTES });
  await lab.setUp();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

/** One `daemon --once` with the metrics passed in and the status observed, as main.ts will wire them. */
async function cycleWithMetrics(listen: string): Promise<{ handle: EngineMetricsHandle; outcome: number | string; scrape: () => Promise<Exposition> }> {
  const settings = lab.settings();
  const handle = createEngineMetrics({ settings, processMetrics: false });
  server = await startMetricsServer({ listen, registry: handle.registry, logger: silentLogger() });
  const address = server.address;
  const outcome = await runDaemon(settings, {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { metrics: handle.metrics },
    onEngine: (engine) => handle.observeStatus(engine.machine),
  }).catch((e: unknown) => (e as { code: string }).code);
  return { handle, outcome, scrape: () => scrape(address) };
}

describe('metrics after a demo cycle', () => {
  it('an update A -> B: bytes written = the image, downloaded = the payload, NEED_REBOOT, offer 2.0.0', async () => {
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    const before = Math.floor(Date.now() / 1000);
    const { outcome, scrape: read } = await cycleWithMetrics('127.0.0.1:0');
    expect(outcome).toBe(0);
    const e = await read();
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe((await readFile(v2.imagePath)).length);
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe(IMAGE_BYTES);
    // DELTA is on by default, but the booted slot shares no chunk with the new image: the pass is a
    // full one, and reads the whole payload once (its SHA-256 is checked against the offer).
    expect(sampleValue(e, 'update_engine_bytes_downloaded_total')).toBe((await stat(v2.path)).size);
    expect(sampleValue(e, 'update_engine_bytes_reused_total')).toBe(0);
    expect(
      samplesOf(e, 'update_engine_status')
        .filter((s) => s.value === 1)
        .map((s) => s.labels.status),
    ).toEqual(['UPDATE_STATUS_UPDATED_NEED_REBOOT']);
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'update' })).toBe(1);
    expect(sampleValue(e, 'update_engine_offered_version_info', { version: '2.0.0' })).toBe(1);
    expect(sampleValue(e, 'update_engine_last_check_timestamp_seconds')).toBeGreaterThanOrEqual(before);
    expect(samplesOf(e, 'update_engine_errors_total').filter((s) => s.value !== 0)).toEqual([]);
    expect(sampleValue(e, 'update_engine_info', { version: '1.0.0', group: 'stable' })).toBe(1);
    expect(sampleValue(e, 'update_engine_progress_ratio')).toBe(1);
    for (const phase of ['check', 'download', 'finalize']) expect(sampleValue(e, 'update_engine_phase_seconds', { phase }), phase).toBeGreaterThan(0);
    expect(sampleValue(e, 'update_engine_write_bytes_per_second')).toBeGreaterThan(0);
    expect(sampleValue(e, 'update_engine_lock_held')).toBe(0);
  });

  it('an untrusted payload on a Unix socket: ERR_PAYLOAD_SIGNATURE counted once, back to IDLE, no byte written', async () => {
    await lab.addPayload('2.0.0', { privateKeyPem: await readFile(join(TEST_KEYS_DIR, 'test-only-ed25519-second.pem'), 'utf8') });
    await lab.serve();
    const { outcome, scrape: read } = await cycleWithMetrics(join(dir, 'metrics.sock'));
    expect(outcome).toBe('ERR_PAYLOAD_SIGNATURE');
    const e = await read();
    expect(
      samplesOf(e, 'update_engine_errors_total')
        .filter((s) => s.value !== 0)
        .map((s) => [s.labels.code, s.value]),
    ).toEqual([['ERR_PAYLOAD_SIGNATURE', 1]]);
    expect(
      samplesOf(e, 'update_engine_status')
        .filter((s) => s.value === 1)
        .map((s) => s.labels.status),
    ).toEqual(['UPDATE_STATUS_IDLE']);
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe(0);
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'update' })).toBe(1);
  });

  it('no update: the check result is noupdate and no version is offered', async () => {
    await lab.serve();
    const { outcome, scrape: read } = await cycleWithMetrics('127.0.0.1:0');
    expect(outcome).toBe(0);
    const e = await read();
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'noupdate' })).toBe(1);
    expect(sampleValue(e, 'update_engine_checks_total', { result: 'noupdate' })).toBe(1);
    expect(samplesOf(e, 'update_engine_offered_version_info')).toEqual([]);
    expect(
      samplesOf(e, 'update_engine_status')
        .filter((s) => s.value === 1)
        .map((s) => s.labels.status),
    ).toEqual(['UPDATE_STATUS_IDLE']);
  });
});
