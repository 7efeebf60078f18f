// REBOOT_STRATEGY=best-effort: etcd-lock when the configured etcd endpoints answer, else reboot
// without a lock. Decided at reboot time (not at start) and logged either way; after the reboot it
// releases a lock it finds, and shrugs when etcd does not answer.

import type { Logger } from '../platform/logger.ts';
import type { EtcdLockStrategy } from './etcd-lock-strategy.ts';
import type { ImmediateRebootStrategy } from './immediate-reboot-strategy.ts';
import type { RebootContext, RebootDecision, RebootStrategy, StartSituation } from './reboot-strategy.ts';

export interface BestEffortStrategyOptions {
  etcd: EtcdLockStrategy;
  immediate: ImmediateRebootStrategy;
  logger: Logger;
  /** How long etcd has to answer the probe; default 3 s. */
  probeTimeoutMs?: number;
  /** Endpoints, for messages. */
  storeDescription: string;
}

export class BestEffortStrategy implements RebootStrategy {
  readonly name = 'best-effort' as const;
  readonly label: string;

  constructor(private readonly options: BestEffortStrategyOptions) {
    this.label = `best-effort (etcd-lock when ${options.storeDescription} answers, else reboot)`;
  }

  /** Whether etcd answers now; the reason when it does not. */
  private async etcdAnswers(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await this.options.etcd.ping(this.options.probeTimeoutMs ?? 3000);
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  }

  async atStart(ctx: RebootContext, situation: StartSituation): Promise<void> {
    const probe = await this.etcdAnswers();
    if (!probe.ok) {
      (ctx.logger ?? this.options.logger).info({ reason: probe.reason }, 'best-effort: etcd does not answer; no reboot lock to look after');
      return;
    }
    await this.options.etcd.atStart(ctx, situation);
  }

  async beforeReboot(ctx: RebootContext): Promise<RebootDecision> {
    const logger = ctx.logger ?? this.options.logger;
    const probe = await this.etcdAnswers();
    if (probe.ok) {
      logger.info({ strategy: this.name, endpoints: this.options.storeDescription }, 'best-effort: etcd answers; taking the reboot lock (as etcd-lock)');
      return this.options.etcd.beforeReboot(ctx);
    }
    logger.warn(
      { strategy: this.name, endpoints: this.options.storeDescription, reason: probe.reason },
      'best-effort: etcd does not answer; rebooting without a lock (as reboot)',
    );
    return this.options.immediate.beforeReboot(ctx);
  }

  async afterHealthyBoot(ctx: RebootContext): Promise<void> {
    await this.releaseIfReachable(ctx, () => this.options.etcd.afterHealthyBoot(ctx));
  }

  async afterRollback(ctx: RebootContext): Promise<void> {
    await this.releaseIfReachable(ctx, () => this.options.etcd.afterRollback(ctx));
  }

  private async releaseIfReachable(ctx: RebootContext, release: () => Promise<void>): Promise<void> {
    const probe = await this.etcdAnswers();
    if (!probe.ok) {
      (ctx.logger ?? this.options.logger).warn(
        { reason: probe.reason },
        'best-effort: etcd does not answer; cannot release a reboot lock, if one is held (it is released at the next start)',
      );
      return;
    }
    await release();
  }

  /** The breaker when etcd answers; nothing to say (undefined) when it does not. */
  async fleetHalt(version: string) {
    return (await this.etcdAnswers()).ok ? this.options.etcd.fleetHalt(version) : undefined;
  }

  async lockHeld(): Promise<boolean> {
    return (await this.etcdAnswers()).ok ? this.options.etcd.lockHeld() : false;
  }

  async close(): Promise<void> {
    await this.options.etcd.close();
  }
}
