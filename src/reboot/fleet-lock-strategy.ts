// REBOOT_STRATEGY=fleet-lock: the FleetLock protocol against FLEET_LOCK_URL (zincati's strategy, an
// airlock server). pre-reboot is retried with jittered backoff until the server grants a slot;
// steady-state gives it back after a healthy boot, after a rollback, and at start when idle.

import type { FleetLockClient } from '../lock/fleet-lock-client.ts';
import { isUpdateEngineError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { RebootContext, RebootDecision, RebootStrategy, StartSituation } from './reboot-strategy.ts';
import { describeWindows, isInWindow } from './windows.ts';
import { waitForWindow, type WindowSchedule } from './window-wait.ts';
import { backoffDelays } from '../platform/backoff.ts';

export interface FleetLockStrategyOptions {
  client: FleetLockClient;
  schedule: WindowSchedule;
  clock: Clock;
  logger: Logger;
  /** FLEET_LOCK_URL, for the label. */
  url: string;
  /** First retry delay of pre-reboot; doubled up to retryCeilingMs, each with jitter. Defaults 10 s and 5 min. */
  retryInitialMs?: number | undefined;
  retryCeilingMs?: number | undefined;
  random?: (() => number) | undefined;
}

export class FleetLockStrategy implements RebootStrategy {
  readonly name = 'fleet-lock' as const;
  readonly label: string;
  private held = false;

  constructor(private readonly options: FleetLockStrategyOptions) {
    this.label = `fleet-lock (${options.url}; windows: ${describeWindows(options.schedule.windows, options.schedule.timeZone)})`;
  }

  async atStart(ctx: RebootContext, situation: StartSituation): Promise<void> {
    if (situation !== 'idle') return;
    await this.options.client.steadyState(ctx.signal);
    this.held = false;
    (ctx.logger ?? this.options.logger).info('Reported steady state to the FleetLock server');
  }

  async beforeReboot(ctx: RebootContext): Promise<RebootDecision> {
    const logger = ctx.logger ?? this.options.logger;
    const { clock, schedule, client } = this.options;
    const nextDelayMs = backoffDelays({
      initialMs: this.options.retryInitialMs ?? 10_000,
      maxMs: this.options.retryCeilingMs ?? 300_000,
      jitter: 'half',
      random: this.options.random,
    });
    for (;;) {
      await waitForWindow(schedule, clock, logger, ctx.signal);
      try {
        await client.preReboot(ctx.signal);
        this.held = true;
      } catch (e) {
        if (ctx.signal.aborted || !isUpdateEngineError(e) || (e.code !== 'ERR_LOCK_UNAVAILABLE' && e.code !== 'ERR_LOCK_STORE')) throw e;
        const waitMs = nextDelayMs();
        logger.info({ retryInMs: waitMs, reason: e.message }, 'No reboot slot from the FleetLock server yet');
        await clock.sleep(waitMs, ctx.signal);
        continue;
      }
      if (isInWindow(schedule.windows, schedule.timeZone, clock.now()) && !ctx.signal.aborted) return 'reboot';
      await client.steadyState();
      this.held = false;
      ctx.signal.throwIfAborted();
      logger.info('The reboot window closed while asking the FleetLock server; gave the slot back until the next window');
    }
  }

  async afterHealthyBoot(ctx: RebootContext): Promise<void> {
    await this.options.client.steadyState(ctx.signal);
    this.held = false;
    (ctx.logger ?? this.options.logger).info('Reported steady state to the FleetLock server: the update is complete');
  }

  async afterRollback(ctx: RebootContext): Promise<void> {
    await this.options.client.steadyState(ctx.signal);
    this.held = false;
    (ctx.logger ?? this.options.logger).info('Reported steady state to the FleetLock server: the machine came back on the old slot');
  }

  /** As far as this process knows (FleetLock has no query). */
  async lockHeld(): Promise<boolean> {
    return this.held;
  }

  async close(): Promise<void> {
    // got keeps no connections open.
  }
}
