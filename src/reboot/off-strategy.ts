// REBOOT_STRATEGY=off: never reboot. The daemon stays in UPDATED_NEED_REBOOT and the administrator
// reboots when it suits them; the post-boot cycle still marks the new slot good.

import type { Logger } from '../platform/logger.ts';
import type { RebootContext, RebootDecision, RebootStrategy, StartSituation } from './reboot-strategy.ts';

export class OffStrategy implements RebootStrategy {
  readonly name = 'off' as const;
  readonly label = 'off (the administrator reboots)';

  constructor(private readonly logger: Logger) {}

  async atStart(_ctx: RebootContext, _situation: StartSituation): Promise<void> {
    // No lock: a lock left by an earlier strategy is released with `locksmithctl unlock`.
  }

  async beforeReboot(ctx: RebootContext): Promise<RebootDecision> {
    (ctx.logger ?? this.logger).info({ strategy: this.name }, 'REBOOT_STRATEGY=off: staying in UPDATED_NEED_REBOOT; reboot by hand to finish the update');
    return 'stay';
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
