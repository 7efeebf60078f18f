// Tests of createEngineMetrics: every documented series with HELP, values after the engine's calls,
// the status series following a StatusMachine, write rate, lock waits and the throttle mechanism.

import { describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { ERROR_CODES } from '../../src/errors.ts';
import { createEngineMetrics } from '../../src/daemon/metrics.ts';
import { StatusMachine, UPDATE_STATUSES } from '../../src/daemon/status.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { parseExposition, samplesOf, sampleValue, type Exposition } from './metrics-scrape.ts';

const BASE = { version: '1.2.3', group: 'beta', appId: '{app-under-test}', ioWriteBytesPerSecond: '20M' };
const settings = settingsSchema.parse(BASE);

function make(overrides: Record<string, string> = {}) {
  const clock = new FakeClock(Date.UTC(2025, 4, 6, 7, 8, 9));
  const handle = createEngineMetrics({ settings: settingsSchema.parse({ ...BASE, ...overrides }), clock, processMetrics: false });
  const read = async (): Promise<Exposition> => parseExposition(await handle.registry.metrics());
  return { clock, ...handle, read };
}

/** The series of ../shared/CLI.md ("Metrics") and of issue 9. */
const DOCUMENTED = [
  'update_engine_info',
  'update_engine_status',
  'update_engine_last_check_timestamp_seconds',
  'update_engine_bytes_downloaded_total',
  'update_engine_bytes_written_total',
  'update_engine_errors_total',
  'update_engine_phase_seconds',
  'update_engine_lock_held',
  'update_engine_last_check_result',
  'update_engine_offered_version_info',
  'update_engine_write_bytes_per_second',
  'update_engine_io_throttle_info',
  'update_engine_lock_wait_seconds',
  'update_engine_lock_holders',
  'update_engine_fleet_halted',
];

const statusOnes = (e: Exposition) =>
  samplesOf(e, 'update_engine_status')
    .filter((s) => s.value === 1)
    .map((s) => s.labels.status);

describe('createEngineMetrics', () => {
  it('declares every documented series with a HELP text, on its own registry', async () => {
    const { read, registry } = make();
    const e = await read();
    for (const name of DOCUMENTED) expect(e.help.get(name), name).toMatch(/\w{3,}/);
    for (const [name, help] of e.help) expect(help.length, `HELP of ${name}`).toBeGreaterThan(10);
    const other = createEngineMetrics({ settings, processMetrics: false });
    expect(other.registry).not.toBe(registry);
    const { register } = await import('prom-client');
    expect(await register.getSingleMetric('update_engine_info')).toBeUndefined();
  });

  it('starts with the info labels, zeros for every error code and status, and the throttle limit', async () => {
    const e = await make().read();
    expect(sampleValue(e, 'update_engine_info', { version: '1.2.3', app_id: '{app-under-test}', group: 'beta' })).toBe(1);
    expect(
      samplesOf(e, 'update_engine_errors_total')
        .map((s) => s.labels.code)
        .sort(),
    ).toEqual([...ERROR_CODES].sort());
    expect(
      samplesOf(e, 'update_engine_status')
        .map((s) => s.labels.status)
        .sort(),
    ).toEqual([...UPDATE_STATUSES].sort());
    expect(samplesOf(e, 'update_engine_offered_version_info')).toEqual([]);
    expect(sampleValue(e, 'update_engine_io_write_limit_bytes_per_second')).toBe(20 * 1024 * 1024);
    // IO_WRITE_BPS is set but no write has chosen a mechanism yet: no mechanism is 1.
    expect(samplesOf(e, 'update_engine_io_throttle_info').filter((s) => s.value === 1)).toEqual([]);
    const unthrottled = await make({ ioWriteBytesPerSecond: '0' }).read();
    expect(sampleValue(unthrottled, 'update_engine_io_throttle_info', { mechanism: 'none' })).toBe(1);
  });

  it('counts bytes and errors by code, keeps phases, and ignores negative or non-finite amounts', async () => {
    const { metrics, read } = make();
    metrics.bytesDownloaded(1000);
    metrics.bytesDownloaded(24);
    metrics.bytesWritten(4096);
    metrics.bytesWritten(-5);
    metrics.bytesWritten(Number.NaN);
    metrics.error('ERR_PAYLOAD_SIGNATURE');
    metrics.error('ERR_PAYLOAD_SIGNATURE');
    metrics.error('ERR_OMAHA_HTTP');
    metrics.phase('download', 12.5);
    metrics.phase('health', 3);
    metrics.phase('download', 7.25);
    const e = await read();
    expect(sampleValue(e, 'update_engine_bytes_downloaded_total')).toBe(1024);
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe(4096);
    expect(sampleValue(e, 'update_engine_errors_total', { code: 'ERR_PAYLOAD_SIGNATURE' })).toBe(2);
    expect(sampleValue(e, 'update_engine_errors_total', { code: 'ERR_OMAHA_HTTP' })).toBe(1);
    expect(sampleValue(e, 'update_engine_errors_total', { code: 'ERR_ROLLBACK' })).toBe(0);
    expect(sampleValue(e, 'update_engine_phase_seconds', { phase: 'download' })).toBe(7.25);
    expect(sampleValue(e, 'update_engine_phase_seconds', { phase: 'health' })).toBe(3);
  });

  it('records the check result, its time and the offered version; a check without offer drops the version', async () => {
    const { metrics, read, clock } = make();
    metrics.checkFinished('update', '2.0.0');
    let e = await read();
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'update' })).toBe(1);
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'noupdate' })).toBe(0);
    expect(sampleValue(e, 'update_engine_offered_version_info', { version: '2.0.0' })).toBe(1);
    expect(sampleValue(e, 'update_engine_last_check_timestamp_seconds')).toBe(Math.floor(clock.now() / 1000));
    metrics.checkFinished('deferred', '2.1.0');
    metrics.checkFinished('noupdate');
    e = await read();
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'noupdate' })).toBe(1);
    expect(samplesOf(e, 'update_engine_last_check_result').filter((s) => s.value === 1)).toHaveLength(1);
    expect(samplesOf(e, 'update_engine_offered_version_info')).toEqual([]);
    expect(sampleValue(e, 'update_engine_checks_total', { result: 'update' })).toBe(1);
    expect(sampleValue(e, 'update_engine_checks_total', { result: 'deferred' })).toBe(1);
    expect(sampleValue(e, 'update_engine_checks_total', { result: 'noupdate' })).toBe(1);
  });

  it('follows the status machine: 1 for the new status only, a failed check counts as an error result', async () => {
    const { observeStatus, read, clock } = make();
    const machine = new StatusMachine({ lastCheckedTimeSeconds: 1_700_000_000 });
    const unsubscribe = observeStatus(machine);
    let e = await read();
    expect(statusOnes(e)).toEqual(['UPDATE_STATUS_IDLE']);
    expect(sampleValue(e, 'update_engine_last_check_timestamp_seconds')).toBe(1_700_000_000);
    machine.transition('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    await clock.advance(1500);
    machine.transition('UPDATE_STATUS_REPORTING_ERROR_EVENT', { lastError: { code: 'ERR_OMAHA_HTTP', message: 'x' } });
    e = await read();
    expect(statusOnes(e)).toEqual(['UPDATE_STATUS_REPORTING_ERROR_EVENT']);
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'error' })).toBe(1);
    expect(sampleValue(e, 'update_engine_phase_seconds', { phase: 'check' })).toBe(1.5);
    machine.transition('UPDATE_STATUS_IDLE');
    unsubscribe();
    machine.transition('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    expect(statusOnes(await read())).toEqual(['UPDATE_STATUS_IDLE']);
  });

  it('measures the write rate while downloading and keeps the last one; times the finalize step', async () => {
    const { metrics, observeStatus, read, clock } = make();
    const machine = new StatusMachine();
    observeStatus(machine);
    machine.transition('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    metrics.checkFinished('update', '2.0.0');
    machine.transition('UPDATE_STATUS_UPDATE_AVAILABLE', { newVersion: '2.0.0', newSizeBytes: 10 });
    metrics.bytesWritten(999); // before the download: not part of its rate
    machine.transition('UPDATE_STATUS_DOWNLOADING');
    await clock.advance(2000);
    metrics.bytesWritten(8 * 1024 * 1024);
    machine.update({ progress: 0.5 });
    let e = await read();
    expect(sampleValue(e, 'update_engine_write_bytes_per_second')).toBe(4 * 1024 * 1024);
    expect(sampleValue(e, 'update_engine_progress_ratio')).toBe(0.5);
    await clock.advance(2000);
    metrics.bytesWritten(8 * 1024 * 1024);
    machine.transition('UPDATE_STATUS_VERIFYING', { progress: 1 });
    machine.transition('UPDATE_STATUS_FINALIZING', { progress: 1 });
    await clock.advance(10_000); // the rate no longer changes once the download is over
    machine.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT', { progress: 1 });
    e = await read();
    expect(sampleValue(e, 'update_engine_write_bytes_per_second')).toBe(4 * 1024 * 1024);
    expect(sampleValue(e, 'update_engine_phase_seconds', { phase: 'finalize' })).toBe(10);
    expect(statusOnes(e)).toEqual(['UPDATE_STATUS_UPDATED_NEED_REBOOT']);
    expect(sampleValue(e, 'update_engine_last_check_result', { result: 'update' })).toBe(1);
    expect(sampleValue(e, 'update_engine_checks_total', { result: 'error' })).toBe(0);
  });

  it('reports the throttle mechanism, lock waits (live and last), holders and whether the lock is held', async () => {
    const { metrics, read, clock } = make();
    metrics.writeThrottle('cgroup-v1', 10 * 1024 * 1024);
    metrics.lockHolders(2, 3);
    metrics.lockWaitStarted();
    await clock.advance(4000);
    let e = await read();
    expect(
      samplesOf(e, 'update_engine_io_throttle_info')
        .filter((s) => s.value === 1)
        .map((s) => s.labels.mechanism),
    ).toEqual(['cgroup-v1']);
    expect(sampleValue(e, 'update_engine_io_write_limit_bytes_per_second')).toBe(10 * 1024 * 1024);
    expect(sampleValue(e, 'update_engine_lock_holders')).toBe(2);
    expect(sampleValue(e, 'update_engine_lock_max')).toBe(3);
    expect(sampleValue(e, 'update_engine_lock_waiting')).toBe(1);
    expect(sampleValue(e, 'update_engine_lock_wait_seconds')).toBe(4);
    await clock.advance(2000);
    metrics.lockWaitFinished('acquired');
    metrics.lockHeld(true);
    await clock.advance(60_000);
    e = await read();
    expect(sampleValue(e, 'update_engine_lock_wait_seconds')).toBe(6);
    expect(sampleValue(e, 'update_engine_lock_waiting')).toBe(0);
    expect(sampleValue(e, 'update_engine_lock_waits_total', { outcome: 'acquired' })).toBe(1);
    expect(sampleValue(e, 'update_engine_lock_held')).toBe(1);
    metrics.lockHeld(false);
    expect(sampleValue(await read(), 'update_engine_lock_held')).toBe(0);
  });

  it('shows which versions the fleet circuit breaker halts, 0 again once resumed', async () => {
    const { metrics, read } = make();
    expect(samplesOf(await read(), 'update_engine_fleet_halted')).toEqual([]);
    metrics.fleetHalted('2.0.0', true);
    metrics.fleetHalted('2.0.1', false);
    let e = await read();
    expect(sampleValue(e, 'update_engine_fleet_halted', { version: '2.0.0' })).toBe(1);
    expect(sampleValue(e, 'update_engine_fleet_halted', { version: '2.0.1' })).toBe(0);
    metrics.fleetHalted('2.0.0', false);
    e = await read();
    expect(sampleValue(e, 'update_engine_fleet_halted', { version: '2.0.0' })).toBe(0);
  });

  it('exports the process series unless told not to', async () => {
    const withProcess = createEngineMetrics({ settings });
    const e = parseExposition(await withProcess.registry.metrics());
    expect(samplesOf(e, 'process_resident_memory_bytes').length + samplesOf(e, 'nodejs_heap_size_used_bytes').length).toBeGreaterThan(0);
    const { read } = make();
    expect(samplesOf(await read(), 'nodejs_heap_size_used_bytes')).toEqual([]);
  });
});
