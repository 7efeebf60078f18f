// REBOOT_STRATEGY=etcd-lock: take a slot of the etcd semaphore (locksmith's key) inside a reboot
// window, re-check the window after taking it, reboot holding it, and release it only once the new
// slot is marked good (or the machine came back on the old one). At start, a slot held while no reboot
// is due is released: the Flatcar#408 leak cannot happen here.

import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { isUpdateEngineError } from '../errors.ts';
import { haltedError, haltOf, type FleetHalt } from '../lock/circuit-breaker.ts';
import { LockManager, type LockManagerOptions } from '../lock/lock-manager.ts';
import type { LockStore } from '../lock/lock-store.ts';
import { SemaphoreClient } from '../lock/semaphore-client.ts';
import type { RebootContext, RebootDecision, RebootStrategy, StartSituation } from './reboot-strategy.ts';
import { describeWindows, isInWindow } from './windows.ts';
import { waitForWindow, windowClosingSignal, type WindowSchedule } from './window-wait.ts';

export interface EtcdLockStrategyOptions {
  schedule: WindowSchedule;
  clock: Clock;
  logger: Logger;
  /** Holder id: /etc/machine-id. */
  machineId: string;
  /** LOCKSMITHD_GROUP; "" = the default semaphore. */
  group: string;
  /** LOCK_STALE_AFTER in ms; 0 = never evict. */
  staleAfterMs: number;
  /** Opens the store on first use (certificate files are read then). */
  openStore: () => Promise<LockStore>;
  /** Endpoints, for the label and messages. */
  storeDescription: string;
  /** FLEET_FAILURE_THRESHOLD: failures of a version in the group that halt it (default 1). */
  failureThreshold?: number;
  lockTimings?: Partial<Pick<LockManagerOptions, 'pollInitialMs' | 'pollCeilingMs' | 'queueGraceMs'>> | undefined;
  random?: (() => number) | undefined;
}

export class EtcdLockStrategy implements RebootStrategy {
  readonly name = 'etcd-lock' as const;
  readonly label: string;
  private opened: Promise<{ store: LockStore; client: SemaphoreClient; manager: LockManager }> | undefined;

  constructor(private readonly options: EtcdLockStrategyOptions) {
    const group = options.group === '' ? 'the default group' : `group "${options.group}"`;
    this.label = `etcd-lock (${group} at ${options.storeDescription}; windows: ${describeWindows(options.schedule.windows, options.schedule.timeZone)})`;
  }

  /** The store and the lock manager, opened on first use (again after a failed open). */
  private open(): Promise<{ store: LockStore; client: SemaphoreClient; manager: LockManager }> {
    if (!this.opened) {
      const opening = this.options.openStore().then((store) => {
        const { clock, logger, machineId, group, staleAfterMs } = this.options;
        const client = new SemaphoreClient({ store, group, clock, random: this.options.random });
        return { store, client, manager: new LockManager({ client, id: machineId, clock, logger, staleAfterMs, ...this.options.lockTimings }) };
      });
      opening.catch(() => {
        if (this.opened === opening) this.opened = undefined;
      });
      this.opened = opening;
    }
    return this.opened;
  }

  async manager(): Promise<LockManager> {
    return (await this.open()).manager;
  }

  /** Resolves when etcd answers within timeoutMs (best-effort's question); rejects with ERR_LOCK_STORE otherwise. */
  async ping(timeoutMs: number): Promise<void> {
    await (await this.open()).store.ping(timeoutMs);
  }

  async atStart(ctx: RebootContext, situation: StartSituation): Promise<void> {
    const logger = ctx.logger ?? this.options.logger;
    const manager = await this.manager();
    if (situation === 'idle') {
      if (await manager.release()) logger.warn({ holder: this.options.machineId }, 'Released a reboot lock held while no reboot is due (the Flatcar#408 case)');
      return;
    }
    if (await manager.refreshLiveness()) logger.info({ situation }, 'Holding the reboot lock across the reboot; liveness key re-created');
  }

  async beforeReboot(ctx: RebootContext): Promise<RebootDecision> {
    const logger = ctx.logger ?? this.options.logger;
    const { schedule, clock } = this.options;
    const manager = await this.manager();
    if (!isInWindow(schedule.windows, schedule.timeZone, clock.now()) && (await manager.release())) {
      logger.info('Gave back the reboot lock held from before: no reboot window is open now');
    }
    const version = ctx.version;
    const threshold = this.threshold;
    const group = this.options.group;
    const veto =
      version === undefined
        ? undefined
        : (snap: { breaker: Parameters<typeof haltOf>[0] }) => {
            const halt = haltOf(snap.breaker, version, threshold);
            return halt ? haltedError(halt, group) : undefined;
          };
    for (;;) {
      await waitForWindow(schedule, clock, logger, ctx.signal);
      const closing = windowClosingSignal(schedule, clock);
      try {
        await manager.acquire(AbortSignal.any([ctx.signal, closing.signal]), veto);
      } catch (e) {
        if (closing.signal.aborted && !ctx.signal.aborted) {
          logger.info('The reboot window closed while waiting for the reboot lock; waiting for the next window');
          continue;
        }
        throw e;
      } finally {
        closing.dispose();
      }
      if (ctx.signal.aborted) {
        await manager.release();
        throw ctx.signal.reason;
      }
      if (version !== undefined) {
        // A retried lock commit re-reads the semaphore: ask the breaker once more, now that we hold a slot.
        const halt = await this.readHaltPatiently(version, ctx.signal, logger);
        if (halt) {
          await manager.release();
          throw haltedError(halt, group);
        }
      }
      if (isInWindow(schedule.windows, schedule.timeZone, clock.now())) return 'reboot';
      await manager.release();
      logger.info('The reboot window closed while taking the reboot lock; released it until the next window');
    }
  }

  async afterHealthyBoot(ctx: RebootContext): Promise<void> {
    await this.release(ctx, 'the update is complete');
  }

  async afterRollback(ctx: RebootContext): Promise<void> {
    if (ctx.failure === undefined) {
      await this.release(ctx, 'the machine came back on the old slot');
      return;
    }
    const { version, code, atMs } = ctx.failure;
    const released = await (await this.manager()).releaseWithFailure({ machineId: this.options.machineId, version, code, failedAtMs: atMs });
    (ctx.logger ?? this.options.logger).info({ released, version }, 'The machine came back on the old slot: failure recorded in the fleet circuit breaker');
  }

  private get threshold(): number {
    return this.options.failureThreshold ?? 1;
  }

  async fleetHalt(version: string): Promise<FleetHalt | undefined> {
    const { client } = await this.open();
    return haltOf((await client.snapshot()).breaker, version, this.threshold);
  }

  /** fleetHalt, waiting out etcd outages (a machine never reboots into a version while the breaker cannot be read). */
  private async readHaltPatiently(version: string, signal: AbortSignal, logger: Logger): Promise<FleetHalt | undefined> {
    for (let delayMs = 1000; ; delayMs = Math.min(60_000, delayMs * 2)) {
      try {
        return await this.fleetHalt(version);
      } catch (e) {
        if (!isUpdateEngineError(e) || e.code !== 'ERR_LOCK_STORE') throw e;
        logger.warn({ err: e.message, retryInMs: delayMs }, 'Cannot read the fleet circuit breaker; not rebooting until it can be read');
        await this.options.clock.sleep(delayMs, signal);
      }
    }
  }

  private async release(ctx: RebootContext, why: string): Promise<void> {
    const released = await (await this.manager()).release();
    (ctx.logger ?? this.options.logger).info({ released }, released ? `Released the reboot lock: ${why}` : `No reboot lock to release (${why})`);
  }

  async lockHeld(): Promise<boolean> {
    return (await this.manager()).isHeld();
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.store.close();
  }
}
