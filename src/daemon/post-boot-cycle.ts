// The post-boot cycle: on a new slot, the health gate, then mark good and release the lock (the
// next check reports 3/2 with previousversion); when the health check never passes, reboot with the
// lock kept so that the bootloader falls back. After a rollback: remember the version, report 44.

import { UpdateEngineError } from '../errors.ts';
import type { BootSituation } from './boot-assessment.ts';
import { bootBackendOf, type EngineDeps } from './engine-deps.ts';
import { writePendingFailure } from './fleet-halt.ts';
import { rememberFailure } from './failure-memory.ts';
import { withoutPendingUpdate } from './pending-update.ts';

export type PostBootOutcome =
  | { kind: 'nothing' }
  | { kind: 'marked-good'; partition: number; version: string | undefined }
  | { kind: 'health-failed'; error: UpdateEngineError }
  | { kind: 'rolled-back'; version: string }
  | { kind: 'need-reboot' };

export async function runPostBoot(deps: EngineDeps, situation: BootSituation, signal: AbortSignal): Promise<PostBootOutcome> {
  const { logger } = deps;
  const ctx = { signal, logger };
  switch (situation.kind) {
    case 'normal':
      await releaseLock(deps, () => deps.reboot.atStart(ctx, 'idle'));
      return { kind: 'nothing' };
    case 'flip-lost':
      logger.warn({ version: situation.pending.version }, 'A pending update was never flipped (interrupted); it will be applied again');
      await deps.state.update(withoutPendingUpdate);
      await releaseLock(deps, () => deps.reboot.atStart(ctx, 'idle'));
      return { kind: 'nothing' };
    case 'need-reboot':
      if (situation.markerLost) {
        await deps.needReboot.write({ version: situation.pending.version, partition: situation.pending.partition, flippedAtMs: situation.pending.appliedAtMs });
      }
      await tolerateLockStore(deps, () => deps.reboot.atStart(ctx, 'reboot-pending'));
      return { kind: 'need-reboot' };
    case 'new-slot-good':
      await finishHealthyBoot(deps, situation.booted.partition, signal);
      return { kind: 'marked-good', partition: situation.booted.partition, version: situation.pending.version };
    case 'new-slot': {
      const { booted, disk } = situation;
      logger.info({ partition: booted.partition, label: booted.label }, 'Booted a slot not yet marked good; running the health check');
      await tolerateLockStore(deps, () => deps.reboot.atStart(ctx, 'post-boot'));
      const started = deps.clock.monotonicMs();
      const healthy = await deps.healthGate(signal);
      deps.metrics?.phase('health', (deps.clock.monotonicMs() - started) / 1000);
      if (!healthy) {
        const error = new UpdateEngineError(
          'ERR_HEALTH_CHECK',
          `The health check did not pass within ${Math.round(deps.settings.healthTimeoutMs / 1000)} s; slot ${booted.label} (partition ${booted.partition}) is not marked good, rebooting so the bootloader falls back`,
        );
        logger.error({ code: error.code }, error.message);
        deps.metrics?.error(error.code);
        const failedVersion = situation.pending?.version;
        // The fleet circuit breaker's record is written once the machine is back on the old slot (with the lock's release).
        if (failedVersion !== undefined)
          await deps.state.update((st) => ({ ...st, fleetFailurePending: { version: failedVersion, code: error.code, atMs: deps.clock.now() } }));
        // The lock is kept across this reboot: the update is not over until the machine is back.
        await deps.rebooter.reboot(`the health check of ${booted.label} did not pass; falling back`, signal);
        return { kind: 'health-failed', error };
      }
      await bootBackendOf(deps).markGood(disk, booted.partition);
      await finishHealthyBoot(deps, booted.partition, signal);
      return { kind: 'marked-good', partition: booted.partition, version: situation.pending?.version ?? deps.settings.version };
    }
    case 'rolled-back': {
      const { pending, failed, disk } = situation;
      logger.error(
        { version: pending.version, partition: pending.partition },
        `Update to ${pending.version} rolled back: the machine came back on the old slot`,
      );
      if (failed && (failed.priority > 0 || failed.tries > 0)) await bootBackendOf(deps).disable(disk, failed.partition);
      const nowMs = deps.clock.now();
      await deps.state.update((st) => {
        const release = {
          version: pending.version,
          imageSha256Hex: pending.imageSha256Hex,
          payloadSha256Base64: pending.payloadSha256Base64,
        };
        const next = rememberFailure(withoutPendingUpdate(st), release, { reason: 'rolled back after reboot', code: 'ERR_ROLLBACK' }, nowMs);
        delete next.previousVersion;
        const known = st.fleetFailurePending?.version === pending.version ? st.fleetFailurePending : undefined;
        return { ...next, reportRollback: true, fleetFailurePending: known ?? { version: pending.version, code: 'ERR_ROLLBACK', atMs: nowMs } };
      });
      deps.metrics?.error('ERR_ROLLBACK');
      // The failure goes to the fleet circuit breaker in the transaction that releases the lock (kept and retried when etcd is down).
      if (await releaseLock(deps, () => recordFailureAndRelease(deps, pending.version, signal))) {
        logger.info({ version: pending.version }, 'Rollback recorded in the fleet circuit breaker (where the reboot strategy has one)');
      }
      return { kind: 'rolled-back', version: pending.version };
    }
  }
}

/** The new slot is good: drop the pending record (previousVersion stays for the 3/2 report), release the lock. */
async function finishHealthyBoot(deps: EngineDeps, partition: number, signal: AbortSignal): Promise<void> {
  await deps.needReboot.clear();
  await deps.state.update((st) => {
    // The new slot is now the running version: its signed build time is what older payloads are compared with.
    const built = st.pendingUpdate?.buildTimeSeconds;
    return { ...withoutPendingUpdate(st), failureCount: 0, ...(built !== undefined ? { runningBuildTimeSeconds: built } : {}) };
  });
  deps.logger.info({ partition }, 'Slot marked good; the update is complete');
  await releaseLock(deps, () => deps.reboot.afterHealthyBoot({ signal, logger: deps.logger }));
}

/** The rollback's failure record with the lock's release; a record not written yet counts as a lock-store error (kept for later). */
async function recordFailureAndRelease(deps: EngineDeps, version: string, signal: AbortSignal): Promise<void> {
  if (!(await writePendingFailure(deps, signal))) {
    throw new UpdateEngineError('ERR_LOCK_STORE', `The failure of version ${version} is not recorded in the fleet circuit breaker yet`);
  }
}

const isLockStoreError = (e: unknown): e is UpdateEngineError =>
  e instanceof UpdateEngineError && (e.code === 'ERR_LOCK_STORE' || e.code === 'ERR_LOCK_CONFLICT');

/** Runs a lock step whose failure must not stop the post-boot cycle (etcd down): logged, then go on. */
async function tolerateLockStore(deps: EngineDeps, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (e) {
    if (!isLockStoreError(e)) throw e;
    deps.logger.warn({ code: e.code, reason: e.message }, 'The reboot lock cannot be reached now; going on without it');
  }
}

/**
 * Lets go of the reboot lock. When the lock store cannot be reached (etcd down), the daemon goes on
 * (updates and checks do not depend on it) and retries before each update check.
 */
export async function releaseLock(deps: EngineDeps, release: () => Promise<void>): Promise<boolean> {
  try {
    await release();
  } catch (e) {
    if (!isLockStoreError(e)) throw e;
    deps.logger.warn({ code: e.code, reason: e.message }, 'Cannot release the reboot lock now; retrying before the next update check');
    await deps.state.update((st) => ({ ...st, releaseLockPending: true }));
    return false;
  }
  const state = await deps.state.read();
  if (state.releaseLockPending) {
    await deps.state.update((st) => {
      const next = { ...st };
      delete next.releaseLockPending;
      return next;
    });
  }
  return true;
}
