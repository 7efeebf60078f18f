// REBOOT_STRATEGY=reboot: reboot as soon as an update is installed, inside a reboot window when any
// are configured. No lock, so nothing to take or release.

import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { RebootContext, RebootDecision, RebootStrategy, StartSituation } from './reboot-strategy.ts';
import { describeWindows } from './windows.ts';
import { waitForWindow, type WindowSchedule } from './window-wait.ts';

export interface ImmediateRebootStrategyOptions {
  schedule: WindowSchedule;
  clock: Clock;
  logger: Logger;
}

export class ImmediateRebootStrategy implements RebootStrategy {
  readonly name = 'reboot' as const;
  readonly label: string;

  constructor(private readonly options: ImmediateRebootStrategyOptions) {
    this.label = `reboot (windows: ${describeWindows(options.schedule.windows, options.schedule.timeZone)})`;
  }

  async atStart(_ctx: RebootContext, _situation: StartSituation): Promise<void> {
    // No lock to release.
  }

  async beforeReboot(ctx: RebootContext): Promise<RebootDecision> {
    const logger = ctx.logger ?? this.options.logger;
    await waitForWindow(this.options.schedule, this.options.clock, logger, ctx.signal);
    logger.info({ strategy: this.name }, 'Rebooting without a lock (REBOOT_STRATEGY=reboot)');
    return 'reboot';
  }

  async afterHealthyBoot(_ctx: RebootContext): Promise<void> {
    // Nothing held.
  }

  async afterRollback(_ctx: RebootContext): Promise<void> {
    // Nothing held.
  }

  async lockHeld(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    // No connections.
  }
}
