// Builds the RebootStrategy named by REBOOT_STRATEGY from the settings, with the real adapters
// (EtcdLockStore, FleetLockClient) unless the caller passes its own (tests, the demo, the benchmark).

import { UpdateEngineError } from '../errors.ts';
import { REBOOT_STRATEGIES, type Settings } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { loadEtcdOptions } from '../lock/etcd-options.ts';
import { FleetLockClient } from '../lock/fleet-lock-client.ts';
import type { LockManagerOptions } from '../lock/lock-manager.ts';
import type { LockStore } from '../lock/lock-store.ts';
import { BestEffortStrategy } from './best-effort-strategy.ts';
import { EtcdLockStrategy } from './etcd-lock-strategy.ts';
import { FleetLockStrategy } from './fleet-lock-strategy.ts';
import { ImmediateRebootStrategy } from './immediate-reboot-strategy.ts';
import { OffStrategy } from './off-strategy.ts';
import type { RebootStrategy } from './reboot-strategy.ts';

/** The settings a strategy reads. */
export type RebootSettings = Pick<
  Settings,
  | 'rebootStrategy'
  | 'rebootWindows'
  | 'rebootTimeZone'
  | 'etcdEndpoints'
  | 'etcdCaFile'
  | 'etcdCertFile'
  | 'etcdKeyFile'
  | 'etcdUsername'
  | 'etcdPassword'
  | 'lockGroup'
  | 'fleetLockUrl'
  | 'lockStaleAfterMs'
  | 'fleetFailureThreshold'
>;

export interface RebootStrategyDeps {
  /** Holder id: /etc/machine-id (readMachineId in src/platform/identity.ts). */
  machineId: string;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Opens the etcd store; default: an EtcdLockStore from the settings (certificate files read on first use). */
  openLockStore?: () => Promise<LockStore>;
  /** LockManager timings (tests and the benchmark shorten them). */
  lockTimings?: Partial<Pick<LockManagerOptions, 'pollInitialMs' | 'pollCeilingMs' | 'queueGraceMs'>>;
  /** fleet-lock's pre-reboot retry delays. */
  fleetLockRetry?: { initialMs: number; ceilingMs: number };
  /** Extra CA for an https:// FleetLock server. */
  fleetLockCaPem?: Buffer;
}

/** The strategy for settings.rebootStrategy. Throws ERR_CONFIG_VALUE for an unknown one or missing FLEET_LOCK_URL. */
export function createRebootStrategy(settings: RebootSettings, deps: RebootStrategyDeps): RebootStrategy {
  const { clock, logger } = deps;
  const schedule = { windows: settings.rebootWindows, timeZone: settings.rebootTimeZone };
  const storeDescription = settings.etcdEndpoints.join(',');
  const etcd = () =>
    new EtcdLockStrategy({
      schedule,
      clock,
      logger,
      machineId: deps.machineId,
      group: settings.lockGroup,
      staleAfterMs: settings.lockStaleAfterMs,
      failureThreshold: settings.fleetFailureThreshold,
      // etcd3 (gRPC) is loaded only when a lock strategy first talks to etcd: about 35 MB and 0.3 s of start-up saved otherwise.
      openStore:
        deps.openLockStore ??
        (async () => {
          const { EtcdLockStore } = await import('../lock/etcd-lock-store.ts');
          return new EtcdLockStore(await loadEtcdOptions(settings));
        }),
      storeDescription,
      lockTimings: deps.lockTimings,
      random: deps.random,
    });
  const immediate = () => new ImmediateRebootStrategy({ schedule, clock, logger });
  switch (settings.rebootStrategy) {
    case 'reboot':
      return immediate();
    case 'off':
      return new OffStrategy(logger);
    case 'etcd-lock':
      return etcd();
    case 'best-effort':
      return new BestEffortStrategy({ etcd: etcd(), immediate: immediate(), logger, storeDescription });
    case 'fleet-lock': {
      if (settings.fleetLockUrl === undefined) throw new UpdateEngineError('ERR_CONFIG_VALUE', 'REBOOT_STRATEGY=fleet-lock needs FLEET_LOCK_URL');
      const client = new FleetLockClient({
        baseUrl: settings.fleetLockUrl,
        id: deps.machineId,
        group: settings.lockGroup,
        caPem: deps.fleetLockCaPem,
      });
      return new FleetLockStrategy({
        client,
        schedule,
        clock,
        logger,
        url: settings.fleetLockUrl,
        retryInitialMs: deps.fleetLockRetry?.initialMs,
        retryCeilingMs: deps.fleetLockRetry?.ceilingMs,
        random: deps.random,
      });
    }
  }
  // Every strategy of the schema is handled above; this is for settings that bypassed the schema.
  throw new UpdateEngineError('ERR_CONFIG_VALUE', `Unknown REBOOT_STRATEGY "${String(settings.rebootStrategy)}" (expected ${REBOOT_STRATEGIES.join(', ')})`);
}
