// The daemon's Prometheus series on a registry of its own: an EngineMetrics the engine reports
// through, the status series fed by the StatusMachine, and the write-throttle and reboot-lock figures.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_CODES } from '../errors.ts';
import type { Settings } from '../config/schema.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { EngineMetrics } from './engine-deps.ts';
import { UPDATE_STATUSES, type StatusMachine, type StatusSnapshot, type UpdateStatus } from './status.ts';

export const CHECK_RESULTS = ['update', 'noupdate', 'error', 'deferred', 'refused'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];
export const THROTTLE_MECHANISMS = ['none', 'cgroup-v2', 'cgroup-v1', 'token-bucket'] as const;
export type MetricsThrottleMechanism = (typeof THROTTLE_MECHANISMS)[number];
export const LOCK_WAIT_OUTCOMES = ['acquired', 'cancelled', 'error'] as const;

/** Steps timed from the status (the engine reports `download` and `health` through phase()). */
const STATUS_PHASES: Partial<Record<UpdateStatus, string>> = {
  UPDATE_STATUS_CHECKING_FOR_UPDATE: 'check',
  UPDATE_STATUS_FINALIZING: 'finalize',
};

export interface EngineMetricsOptions {
  settings: Pick<Settings, 'version' | 'appId' | 'group' | 'ioWriteBytesPerSecond' | 'downloadBytesPerSecond'>;
  /** For durations (phases, lock waits, the write rate); default: the system clock. */
  clock?: Clock;
  /** Also export the process_* and nodejs_* series of prom-client (default true). */
  processMetrics?: boolean;
  /** Where a failure inside a status listener is reported (it never reaches the engine). */
  logger?: Logger;
}

export interface EngineMetricsHandle {
  /** What the engine reports through (every optional method included). */
  metrics: Required<EngineMetrics>;
  /** Follows the machine's status (status, progress, check time, write rate); returns the unsubscribe. */
  observeStatus(machine: StatusMachine): () => void;
  registry: Registry;
}

/** Sets `current` to 1 and every other value of the label to 0 (one series per value). */
function oneHot<L extends string>(gauge: Gauge<L>, label: L, values: readonly string[], current: string | undefined): void {
  for (const v of values) gauge.set({ [label]: v } as Partial<Record<L, string>>, v === current ? 1 : 0);
}

const positive = (n: number): boolean => Number.isFinite(n) && n > 0;

/** Every series, with its HELP text. `collect` hooks refresh the live gauges at scrape time. */
function defineSeries(registry: Registry, hooks: { writeRate(): number | undefined; lockWaitSeconds(): number | undefined }) {
  const registers = [registry];
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  return {
    info: gauge('update_engine_info', 'Always 1; the running version, the Omaha app id and the update group as labels', ['version', 'app_id', 'group']),
    status: gauge('update_engine_status', "1 for the daemon's current status, 0 for the others", ['status']),
    progress: gauge('update_engine_progress_ratio', 'Progress of the current step, 0 to 1 (the download while downloading)'),
    lastCheck: gauge('update_engine_last_check_timestamp_seconds', 'Unix time of the last update check the server answered; 0 = never'),
    lastCheckResult: gauge('update_engine_last_check_result', "1 for the last update check's result, 0 for the others", ['result']),
    checks: counter('update_engine_checks_total', 'Update checks by result (update, noupdate, error, deferred, refused)', ['result']),
    refusals: counter(
      'update_engine_check_refusals_total',
      "Update checks the server refused, by its reason (Nebraska's rollout policy: error-maxConcurrentUpdatesLimitReached, ...)",
      ['reason'],
    ),
    offeredVersion: gauge('update_engine_offered_version_info', 'Always 1; the version the last check offered as label (no series when it offered none)', [
      'version',
    ]),
    bytesDownloaded: counter('update_engine_bytes_downloaded_total', 'Payload bytes received from the update server'),
    bytesWritten: counter('update_engine_bytes_written_total', 'Image bytes written to the passive slot'),
    bytesReused: counter('update_engine_bytes_reused_total', 'Image bytes a delta update copied from the booted slot instead of downloading them'),
    writeRate: new Gauge({
      name: 'update_engine_write_bytes_per_second',
      help: 'Write rate to the passive slot: of the current download while downloading, else of the last one',
      registers,
      collect() {
        const rate = hooks.writeRate();
        if (rate !== undefined) this.set(rate);
      },
    }),
    writeLimit: gauge('update_engine_io_write_limit_bytes_per_second', 'The write limit on the passive slot (IO_WRITE_BPS); 0 = none'),
    downloadLimit: gauge('update_engine_download_limit_bytes_per_second', 'The download limit (DOWNLOAD_BPS); 0 = none'),
    throttleInfo: gauge('update_engine_io_throttle_info', 'IO_WRITE_BPS mechanism in use: 1 for it, 0 for the others (all 0 until the first write)', [
      'mechanism',
    ]),
    errors: counter('update_engine_errors_total', 'Failures by error code (see the README, "Error codes")', ['code']),
    phaseSeconds: gauge('update_engine_phase_seconds', 'Duration of each step of the last update: check, download, finalize, health', ['phase']),
    lockHeld: gauge('update_engine_lock_held', '1 while this machine holds the reboot lock'),
    lockHolders: gauge('update_engine_lock_holders', 'Machines holding the reboot lock, as last read'),
    lockMax: gauge('update_engine_lock_max', 'How many machines may hold the reboot lock at once, as last read'),
    fleetHalted: gauge(
      'update_engine_fleet_halted',
      '1 while the fleet circuit breaker halts the version in the lock group, 0 once it is resumed (as last read)',
      ['version'],
    ),
    lockWaiting: gauge('update_engine_lock_waiting', '1 while this machine waits for the reboot lock'),
    lockWaitSeconds: new Gauge({
      name: 'update_engine_lock_wait_seconds',
      help: 'How long this machine has been waiting for the reboot lock, or how long its last wait took',
      registers,
      collect() {
        const seconds = hooks.lockWaitSeconds();
        if (seconds !== undefined) this.set(seconds);
      },
    }),
    lockWaits: counter('update_engine_lock_waits_total', 'Waits for the reboot lock by outcome (acquired, cancelled, error)', ['outcome']),
  };
}

export function createEngineMetrics(options: EngineMetricsOptions): EngineMetricsHandle {
  const { settings } = options;
  const clock = options.clock ?? systemClock;
  const registry = new Registry();
  // The write rate: bytes written since DOWNLOADING began, over the time since (kept after it ends).
  let writtenBytes = 0;
  let writing: { startMs: number; startBytes: number } | undefined;
  const writeRate = (w: { startMs: number; startBytes: number }): number => {
    const seconds = (clock.monotonicMs() - w.startMs) / 1000;
    return seconds > 0 ? (writtenBytes - w.startBytes) / seconds : 0;
  };
  // The lock wait: the current wait so far while waiting, else the last wait's duration.
  let lockWaitStartMs: number | undefined;
  const lockWaitSoFar = (): number | undefined => (lockWaitStartMs === undefined ? undefined : (clock.monotonicMs() - lockWaitStartMs) / 1000);
  const s = defineSeries(registry, { writeRate: () => (writing ? writeRate(writing) : undefined), lockWaitSeconds: lockWaitSoFar });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  s.info.set({ version: settings.version ?? 'unknown', app_id: settings.appId, group: settings.group }, 1);
  oneHot(s.status, 'status', UPDATE_STATUSES, undefined);
  for (const code of ERROR_CODES) s.errors.inc({ code }, 0);
  for (const result of CHECK_RESULTS) s.checks.inc({ result }, 0);
  for (const outcome of LOCK_WAIT_OUTCOMES) s.lockWaits.inc({ outcome }, 0);
  oneHot(s.lastCheckResult, 'result', CHECK_RESULTS, undefined);
  oneHot(s.throttleInfo, 'mechanism', THROTTLE_MECHANISMS, settings.ioWriteBytesPerSecond > 0 ? undefined : 'none');
  s.writeLimit.set(settings.ioWriteBytesPerSecond);
  s.downloadLimit.set(settings.downloadBytesPerSecond);
  for (const g of [s.lastCheck, s.progress, s.writeRate, s.lockHeld, s.lockHolders, s.lockMax, s.lockWaiting, s.lockWaitSeconds]) g.set(0);

  let checkReported = false;
  const recordCheck = (result: CheckResult): void => {
    checkReported = true;
    s.checks.inc({ result });
    oneHot(s.lastCheckResult, 'result', CHECK_RESULTS, result);
  };

  const metrics: Required<EngineMetrics> = {
    checkFinished(result, offeredVersion) {
      recordCheck(result);
      s.lastCheck.set(Math.floor(clock.now() / 1000));
      s.offeredVersion.reset();
      if (offeredVersion !== undefined) s.offeredVersion.set({ version: offeredVersion }, 1);
    },
    checkRefused(reason) {
      s.refusals.inc({ reason });
    },
    bytesDownloaded(bytes) {
      if (positive(bytes)) s.bytesDownloaded.inc(bytes);
    },
    bytesReused(bytes) {
      if (positive(bytes)) s.bytesReused.inc(bytes);
    },
    bytesWritten(bytes) {
      if (!positive(bytes)) return;
      s.bytesWritten.inc(bytes);
      writtenBytes += bytes;
    },
    error(code) {
      s.errors.inc({ code });
    },
    phase(name, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) s.phaseSeconds.set({ phase: name }, seconds);
    },
    writeThrottle(mechanism, bytesPerSecond) {
      oneHot(s.throttleInfo, 'mechanism', THROTTLE_MECHANISMS, mechanism);
      if (Number.isFinite(bytesPerSecond) && bytesPerSecond >= 0) s.writeLimit.set(bytesPerSecond);
    },
    lockWaitStarted() {
      lockWaitStartMs = clock.monotonicMs();
      s.lockWaiting.set(1);
    },
    lockWaitFinished(outcome) {
      const seconds = lockWaitSoFar();
      if (seconds !== undefined) s.lockWaitSeconds.set(seconds);
      lockWaitStartMs = undefined;
      s.lockWaiting.set(0);
      s.lockWaits.inc({ outcome });
    },
    lockHeld(held) {
      s.lockHeld.set(held ? 1 : 0);
    },
    lockHolders(holders, max) {
      s.lockHolders.set(holders);
      s.lockMax.set(max);
    },
    fleetHalted(version, halted) {
      s.fleetHalted.set({ version }, halted ? 1 : 0);
    },
  };

  const stepStarts = new Map<UpdateStatus, number>();
  const apply = (snap: StatusSnapshot, prev: StatusSnapshot | undefined): void => {
    if (prev === undefined || snap.status !== prev.status) {
      oneHot(s.status, 'status', UPDATE_STATUSES, snap.status);
      const nowMs = clock.monotonicMs();
      if (prev !== undefined) {
        const started = stepStarts.get(prev.status);
        const phase = STATUS_PHASES[prev.status];
        if (phase !== undefined && started !== undefined) s.phaseSeconds.set({ phase }, (nowMs - started) / 1000);
        if (prev.status === 'UPDATE_STATUS_CHECKING_FOR_UPDATE' && snap.status === 'UPDATE_STATUS_REPORTING_ERROR_EVENT' && !checkReported)
          recordCheck('error');
        if (prev.status === 'UPDATE_STATUS_DOWNLOADING' && writing) {
          s.writeRate.set(writeRate(writing));
          writing = undefined;
        }
      }
      stepStarts.set(snap.status, nowMs);
      if (snap.status === 'UPDATE_STATUS_CHECKING_FOR_UPDATE') checkReported = false;
      if (snap.status === 'UPDATE_STATUS_DOWNLOADING') writing = { startMs: nowMs, startBytes: writtenBytes };
    }
    s.progress.set(snap.progress);
    if (snap.lastCheckedTimeSeconds > 0) s.lastCheck.set(snap.lastCheckedTimeSeconds);
  };

  return {
    metrics,
    registry,
    observeStatus(machine) {
      apply(machine.snapshot(), undefined);
      return machine.onChange((snap, prev) => {
        // Metrics never break a status change: a failure here is logged, not thrown into the engine.
        try {
          apply(snap, prev);
        } catch (e) {
          options.logger?.warn({ err: e }, 'Cannot update the status metrics');
        }
      });
    },
  };
}
