// The daemon's composition root: builds the real adapters from the Settings, settles the boot
// situation, then either runs one cycle (--once) or serves the control socket and the schedule.

import { classify, exitCodeFor, UpdateEngineError } from '../errors.ts';
import type { Settings } from '../config/schema.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import { defaultIdentityPaths, readMachineIdentity, type IdentityPaths } from '../platform/identity.ts';
import type { Logger } from '../platform/logger.ts';
import { GotTransport, type GotTransportOptions } from '../omaha/got-transport.ts';
import { OmahaClient } from '../omaha/omaha-client.ts';
import { loadKeyring } from '../payload/keyring.ts';
import { openSlotSeed, openSlotTarget } from '../slots/slot-target.ts';
import { createWriteThrottle } from '../io/write-throttle.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { repairGpt } from '../slots/index.ts';
import { createBootBackend } from '../boot/create-boot-backend.ts';
import { ControlServer } from './control-server.ts';
import { retryPendingFailure } from './fleet-halt.ts';
import type { EngineDeps } from './engine-deps.ts';
import { UpdateEngine } from './engine.ts';
import { buildRebootPorts } from './reboot-ports.ts';
import { CheckScheduler, type CheckOutcome } from './scheduler.ts';
import { NeedRebootMarkerFile, StateStore } from './state-store.ts';
import type { CycleOutcome } from './update-cycle.ts';
import { startSystemdWatchdog, startSystemIntegration, type SystemIntegration, type SystemIntegrationOptions } from './system-integration.ts';

export interface DaemonOptions {
  once: boolean;
  logger: Logger;
  signal: AbortSignal;
  clock?: Clock;
  identityPaths?: IdentityPaths;
  /** Replace ports (tests, the demo). */
  overrides?: Partial<EngineDeps>;
  /** Called once the engine exists (the demo follows its status). */
  onEngine?(engine: UpdateEngine): void;
  /** Transport options (the demo: no system CA files, no proxies from the environment). */
  transportOptions?: GotTransportOptions;
  /** Serve the control socket in --once mode too (default: only when the daemon runs). */
  controlSocketInOnce?: boolean;
  /** The D-Bus address and systemd environment (tests); served when the control socket is. */
  system?: SystemIntegrationOptions;
}

/** The target, with `after` run once it is closed (the throttle's cgroup is left and removed). */
function closingAlso(target: WriteTarget, after: () => Promise<void>): WriteTarget {
  // `this` is the wrapper: the target's methods set their state (the file handle) on it, so close it there.
  return Object.assign(Object.create(target) as WriteTarget, {
    async close(this: WriteTarget) {
      try {
        await target.close.call(this);
      } finally {
        await after();
      }
    },
  });
}

/** The real adapters for the settings. */
export async function buildEngineDeps(
  settings: Settings,
  options: Pick<DaemonOptions, 'logger' | 'clock' | 'identityPaths' | 'transportOptions'>,
): Promise<EngineDeps> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const identity = await readMachineIdentity(options.identityPaths ?? defaultIdentityPaths);
  if (identity.missing.length > 0) logger.warn({ missing: identity.missing }, 'Machine identity incomplete; using placeholders');
  const transport = await GotTransport.create({ ...options.transportOptions, ...(settings.serverCaFile ? { caFile: settings.serverCaFile } : {}) });
  const omaha = settings.serverDisabled ? undefined : new OmahaClient({ serverUrl: settings.server, transport, clock, logger });
  const ports = buildRebootPorts(settings, identity.machineId, clock, logger);
  const boot = createBootBackend(settings);
  const deps: EngineDeps = {
    settings,
    identity: {
      machineId: identity.machineId,
      bootId: identity.bootId,
      oem: identity.oem,
      oemVersion: identity.oemVersion,
    },
    clock,
    logger,
    omaha,
    transport,
    loadKeyring: () => loadKeyring(settings.publicKeys, { logger }),
    state: new StateStore({ stateDir: settings.stateDir, clock, logger }),
    needReboot: new NeedRebootMarkerFile(settings.runDir),
    async detectSlots() {
      return boot.bootedSlot({
        disk: settings.disk,
        bootedPartition: settings.bootedPartition,
        slotAPartition: settings.slotAPartition,
        slotBPartition: settings.slotBPartition,
      });
    },
    async openTarget(disk, slot) {
      // The slot's partition node (block device, checked free: issue 14) or byte range (image file);
      // IO_WRITE_BPS through the best throttle available (cgroup v2, v1, token bucket), removed on close.
      const region = await openSlotTarget(disk, slot);
      const throttle = await createWriteThrottle({ bytesPerSecond: settings.ioWriteBytesPerSecond, targetDevice: disk, logger, clock });
      deps.metrics?.writeThrottle?.(throttle.mechanism, throttle.bytesPerSecond);
      return closingAlso(throttle.wrap(region), () => throttle.dispose());
    },
    openSeed: (disk, slot) => openSlotSeed(disk, slot),
    boot,
    ...ports,
  };
  return deps;
}

function describeOutcome(outcome: CycleOutcome): string {
  switch (outcome.kind) {
    case 'noupdate':
      return 'No update available';
    case 'pending-kept':
      return `Update to ${outcome.version} is installed and waits for a reboot`;
    case 'deferred':
      return `Update to ${outcome.version} deferred: ${outcome.reason}`;
    case 'updated':
      return `Updated to ${outcome.flipped.version} on partition ${outcome.flipped.partition}; reboot to use it`;
    case 'refused':
      return `No update now: the server holds it back (${outcome.reason}): ${outcome.explanation}`;
    case 'failed':
      return `Update failed: ${outcome.error.message}`;
  }
}

/**
 * What the scheduler needs of a cycle: a refusal or no update keeps the normal cadence (or the server's
 * PollInterval); a failed check (a server or configuration error) slows the checks down, doubling up to 4 h.
 */
export function checkOutcomeOf(outcome: CycleOutcome): CheckOutcome {
  if (outcome.kind === 'failed') {
    return {
      httpStatus: outcome.httpStatus,
      ...(outcome.checkFailed && classify(outcome.error.code) === 'backoff' ? { backoff: true } : {}),
    };
  }
  return outcome.pollIntervalMs !== undefined ? { pollIntervalMs: outcome.pollIntervalMs } : {};
}

/** The one line that says where to set SERVER (the daemon, `config` and `doctor` say it). */
export const NO_SERVER_LINE =
  'SERVER is not set (or "disabled"): no update checks; set SERVER=https://HOST/v1/update/ (your Nebraska) in /etc/flatcar/update.conf';

/** Runs the daemon; resolves with the process exit code. */
export async function runDaemon(settings: Settings, options: DaemonOptions): Promise<number> {
  const { logger, signal } = options;
  // Overrides replace ports in place, so that the adapters see the same deps (metrics) as the engine.
  const deps: EngineDeps = Object.assign(await buildEngineDeps(settings, options), options.overrides);
  // prom-client is loaded only when METRICS_LISTEN is set.
  const metrics =
    settings.metricsListen !== undefined && deps.metrics === undefined ? (await import('./metrics.ts')).createEngineMetrics({ settings, logger }) : undefined;
  const metricsServer = metrics
    ? await (await import('./metrics-server.ts')).startMetricsServer({ listen: settings.metricsListen as string, registry: metrics.registry, logger })
    : undefined;
  if (metrics) deps.metrics = metrics.metrics;
  let control: ControlServer | undefined;
  let system: SystemIntegration | undefined;
  const serving = !options.once || options.controlSocketInOnce === true;
  const notifier = serving ? startSystemdWatchdog(logger, options.system) : undefined;
  try {
    const { disk } = await deps.detectSlots();
    const repaired = await repairGpt(disk);
    if (repaired.length > 0) logger.warn({ disk, repaired }, 'The GPT was repaired');
    const { engine, postBoot } = await UpdateEngine.start(deps, signal);
    metrics?.observeStatus(engine.machine);
    options.onEngine?.(engine);
    if (postBoot.kind === 'health-failed') return exitCodeFor(postBoot.error.code);
    if (settings.serverDisabled) logger.warn(NO_SERVER_LINE);
    control = !options.once || options.controlSocketInOnce ? await startControl(settings, engine, logger, options.once) : undefined;
    if (serving) system = await startSystemIntegration(settings, engine, logger, notifier, options.system);
    if (options.once) return await runOnce(engine, logger, signal);
    await runForever(settings, deps, engine, signal, system);
    return 0;
  } finally {
    await system?.close();
    await notifier?.close();
    await control?.close();
    await metricsServer?.close();
    await deps.reboot.close().catch((e: unknown) => logger.warn({ err: e }, 'Cannot close the reboot lock connection'));
  }
}

async function startControl(settings: Settings, engine: UpdateEngine, logger: Logger, optional: boolean): Promise<ControlServer | undefined> {
  try {
    return await ControlServer.listen({ socketPath: settings.controlSocket, groupName: settings.controlGroup, handler: engine, logger });
  } catch (e) {
    if (!optional) throw e;
    logger.warn({ err: e }, 'Control socket not available during this run');
    return undefined;
  }
}

async function runOnce(engine: UpdateEngine, logger: Logger, signal: AbortSignal): Promise<number> {
  const outcome = await engine.runCycle('scheduler', signal);
  logger.info({ outcome: outcome.kind }, describeOutcome(outcome));
  if (outcome.kind === 'failed') throw outcome.error;
  if (engine.machine.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') {
    const result = await engine.handOverToReboot(signal);
    logger.info({ result }, result === 'stay' ? 'Reboot strategy says stay: reboot when convenient' : 'Reboot hand-over finished');
    if (result === 'cancelled' && signal.aborted) throw new UpdateEngineError('ERR_ABORTED', 'Stopped while waiting to reboot');
  }
  return 0;
}

async function runForever(
  settings: Settings,
  deps: EngineDeps,
  engine: UpdateEngine,
  signal: AbortSignal,
  system: SystemIntegration | undefined,
): Promise<void> {
  const handOver = () => {
    void engine.handOverToReboot(signal).catch((e: unknown) => deps.logger.error({ err: e }, 'Reboot hand-over failed'));
  };
  let scheduler: CheckScheduler | undefined;
  if (!settings.serverDisabled) {
    scheduler = new CheckScheduler({
      clock: deps.clock,
      cronExpression: settings.checkSchedule,
      logger: deps.logger,
      onCheck: async (reason, sig) => {
        const outcome = await engine.runCycle(reason === 'on-demand' ? 'ondemandupdate' : 'scheduler', sig);
        deps.logger.info({ outcome: outcome.kind }, describeOutcome(outcome));
        if (outcome.kind === 'updated') handOver();
        return checkOutcomeOf(outcome);
      },
    });
    const s = scheduler;
    engine.onCheckRequested = () => s.checkNow();
    scheduler.start();
  }
  engine.onRebootNeeded = handOver;
  if (engine.machine.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') handOver();
  if ((await deps.state.read()).fleetFailurePending) void retryPendingFailure(deps, signal);
  deps.logger.info({ strategy: deps.reboot.label, server: settings.server }, 'update-engine daemon running');
  await system?.ready();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  deps.logger.info('Stopping');
  await scheduler?.stop();
}
