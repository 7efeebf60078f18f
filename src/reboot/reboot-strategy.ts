// The RebootStrategy port, in zincati's spirit: each strategy has a label and answers the questions
// the daemon asks at fixed points of its life. The daemon never talks to etcd or FleetLock itself.
//
//   daemon start ............ atStart(ctx, situation)   release a lock we hold when no reboot is due (Flatcar#408)
//   UPDATED_NEED_REBOOT ..... beforeReboot(ctx)         wait for a window and the lock; 'reboot' or 'stay'
//   after REBOOT_COMMAND .... (nothing: the lock is held across the reboot)
//   post-boot, slot good .... afterHealthyBoot(ctx)     the update is complete: release the lock
//   post-boot, old slot ..... afterRollback(ctx)        the update failed: release the lock too

import type { REBOOT_STRATEGIES } from '../config/schema.ts';
import type { ErrorCode } from '../errors.ts';
import type { FleetHalt } from '../lock/circuit-breaker.ts';
import type { Logger } from '../platform/logger.ts';

export type RebootStrategyName = (typeof REBOOT_STRATEGIES)[number];

export interface RebootContext {
  /** Cancels a wait (shutdown, or a newer update replacing the pending one). */
  signal: AbortSignal;
  /** The daemon's child logger for this step; the strategy's own logger when absent. */
  logger?: Logger;
  /** beforeReboot: the version to reboot into (the etcd-lock strategy refuses a halted one: ERR_FLEET_HALTED). */
  version?: string | undefined;
  /** afterRollback: the failure to record in the fleet circuit breaker with the lock's release. */
  failure?: { version: string; code: ErrorCode; atMs: number };
}

/**
 * What the daemon knows when it starts:
 * - 'idle': no update is pending and the booted slot is good: a lock we hold is released;
 * - 'reboot-pending': UPDATED_NEED_REBOOT survived a daemon restart without a reboot: a lock we hold is kept
 *   (beforeReboot finds it and reboots at once, window permitting);
 * - 'post-boot': booted into a slot not yet marked good: the lock is kept (and its liveness re-created)
 *   until afterHealthyBoot or afterRollback.
 */
export type StartSituation = 'idle' | 'reboot-pending' | 'post-boot';

export type RebootDecision = 'reboot' | 'stay';

export interface RebootStrategy {
  readonly name: RebootStrategyName;
  /** For logs and `update-engine config`, e.g. `etcd-lock (group "web" at http://10.0.0.1:2379)`. */
  readonly label: string;
  /** At daemon start (safe to call again whenever the daemon is idle). Throws ERR_LOCK_STORE when the lock cannot be reached. */
  atStart(ctx: RebootContext, situation: StartSituation): Promise<void>;
  /**
   * Before rebooting into an installed update: waits (abortably) for a reboot window and, for the lock
   * strategies, a lock slot, and re-checks the window after taking it. 'reboot': reboot now (the lock,
   * if any, is held); 'stay': do not reboot (off). Rejects with the abort reason when aborted (a lock
   * taken meanwhile is released first).
   */
  beforeReboot(ctx: RebootContext): Promise<RebootDecision>;
  /** The new slot passed its health gate and was marked good: release the lock. */
  afterHealthyBoot(ctx: RebootContext): Promise<void>;
  /** The machine came back on the old slot: release the lock as well. */
  afterRollback(ctx: RebootContext): Promise<void>;
  /**
   * The fleet circuit breaker (etcd-lock only; absent for strategies without one): whether `version`
   * is halted in the lock group. Rejects with ERR_LOCK_STORE when it cannot be read.
   */
  fleetHalt?(version: string): Promise<FleetHalt | undefined>;
  /** Whether this machine holds a reboot lock now (false for strategies without one); for metrics. */
  lockHeld(): Promise<boolean>;
  /** Closes connections (the etcd session lease is revoked; a held lock stays held). */
  close(): Promise<void>;
}
