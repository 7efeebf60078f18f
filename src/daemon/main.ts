// The daemon's composition root: builds the real adapters from the Settings, settles the boot
// situation, then either runs one cycle (--once) or serves the control socket and the schedule.

import { exitCodeFor, UpdateEngineError } from '../errors.ts';
import type { Settings } from '../config/schema.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import { defaultIdentityPaths, readMachineIdentity, type IdentityPaths } from '../platform/identity.ts';
import type { Logger } from '../platform/logger.ts';
import { GotTransport, type GotTransportOptions } from '../omaha/got-transport.ts';
import { OmahaClient } from '../omaha/omaha-client.ts';
import { loadKeyring } from '../payload/keyring.ts';
import { FileRegionTarget } from '../io/file-region-target.ts';
import { createWriteThrottle } from '../io/write-throttle.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { repairGpt } from '../slots/index.ts';
import { createBootBackend } from '../boot/create-boot-backend.ts';
import { ControlServer } from './control-server.ts';
import type { EngineDeps } from './engine-deps.ts';
import { UpdateEngine } from './engine.ts';
import { buildRebootPorts } from './reboot-ports.ts';
import { CheckScheduler } from './scheduler.ts';
import { NeedRebootMarkerFile, StateStore } from './state-store.ts';
import type { CycleOutcome } from './update-cycle.ts';

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
export async function buildEngineDeps(settings: Settings, options: Pick<DaemonOptions, 'logger' | 'clock' | 'identityPaths' | 'transportOptions'>): Promise<EngineDeps> {
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
    identity: { machineId: identity.machineId, bootId: identity.bootId },
    clock,
    logger,
    omaha,
    transport,
    loadKeyring: () => loadKeyring(settings.publicKeys, { logger }),
    state: new StateStore({ stateDir: settings.stateDir, clock, logger }),
    needReboot: new NeedRebootMarkerFile(settings.runDir),
    async detectSlots() {
      return boot.bootedSlot({
        ...(settings.disk !== undefined ? { disk: settings.disk } : {}),
        ...(settings.bootedPartition !== undefined ? { bootedPartition: settings.bootedPartition } : {}),
        slotAPartition: settings.slotAPartition,
        slotBPartition: settings.slotBPartition,
      });
    },
    async openTarget(disk, slot) {
      // The slot's byte range on the disk (image file or block device); IO_WRITE_BPS through the
      // best throttle available (cgroup v2, cgroup v1, token bucket), removed again on close.
      const region = new FileRegionTarget(disk, slot.byteOffset, slot.byteLength);
      const throttle = await createWriteThrottle({ bytesPerSecond: settings.ioWriteBytesPerSecond, targetDevice: disk, logger, clock });
      deps.metrics?.writeThrottle?.(throttle.mechanism, throttle.bytesPerSecond);
      return closingAlso(throttle.wrap(region), () => throttle.dispose());
    },
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
    case 'failed':
      return `Update failed: ${outcome.error.message}`;
  }
}

/** Runs the daemon; resolves with the process exit code. */
export async function runDaemon(settings: Settings, options: DaemonOptions): Promise<number> {
  const { logger, signal } = options;
  // Overrides replace ports in place, so that the adapters see the same deps (metrics) as the engine.
  const deps: EngineDeps = Object.assign(await buildEngineDeps(settings, options), options.overrides);
  // prom-client is loaded only when METRICS_LISTEN is set.
  const metrics = settings.metricsListen !== undefined && deps.metrics === undefined ? (await import('./metrics.ts')).createEngineMetrics({ settings, logger }) : undefined;
  const metricsServer = metrics ? await (await import('./metrics-server.ts')).startMetricsServer({ listen: settings.metricsListen as string, registry: metrics.registry, logger }) : undefined;
  if (metrics) deps.metrics = metrics.metrics;
  let control: ControlServer | undefined;
  try {
    const { disk } = await deps.detectSlots();
    const repaired = await repairGpt(disk);
    if (repaired.length > 0) logger.warn({ disk, repaired }, 'The GPT was repaired');
    const { engine, postBoot } = await UpdateEngine.start(deps, signal);
    metrics?.observeStatus(engine.machine);
    options.onEngine?.(engine);
    if (postBoot.kind === 'health-failed') return exitCodeFor(postBoot.error.code);
    control = !options.once || options.controlSocketInOnce ? await startControl(settings, engine, logger, options.once) : undefined;
    if (options.once) return await runOnce(engine, logger, signal);
    await runForever(settings, deps, engine, signal);
    return 0;
  } finally {
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

async function runForever(settings: Settings, deps: EngineDeps, engine: UpdateEngine, signal: AbortSignal): Promise<void> {
  const handOver = () => {
    void engine.handOverToReboot(signal).catch((e: unknown) => deps.logger.error({ err: e }, 'Reboot hand-over failed'));
  };
  let scheduler: CheckScheduler | undefined;
  if (!settings.serverDisabled) {
    scheduler = new CheckScheduler({
      clock: deps.clock,
      ...(settings.checkSchedule ? { cronExpression: settings.checkSchedule } : {}),
      logger: deps.logger,
      onCheck: async (reason, sig) => {
        const outcome = await engine.runCycle(reason === 'on-demand' ? 'ondemandupdate' : 'scheduler', sig);
        deps.logger.info({ outcome: outcome.kind }, describeOutcome(outcome));
        if (outcome.kind === 'updated') handOver();
        if (outcome.kind === 'failed') return outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {};
        return outcome.pollIntervalMs !== undefined ? { pollIntervalMs: outcome.pollIntervalMs } : {};
      },
    });
    const s = scheduler;
    engine.onCheckRequested = () => s.checkNow();
    scheduler.start();
  } else {
    deps.logger.info('SERVER=disabled: no update checks');
  }
  if (engine.machine.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') handOver();
  deps.logger.info({ strategy: deps.reboot.label, server: settings.server }, 'update-engine daemon running');
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  deps.logger.info('Stopping');
  await scheduler?.stop();
}
