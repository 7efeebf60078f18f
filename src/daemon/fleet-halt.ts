// The daemon's side of the fleet circuit breaker: offers of a halted version are not taken (3/0 code 36 ends the server's grant), a
// pending update to a halted version is undone (the booted slot stays first, back to IDLE), and a
// rollback's failure record is retried until etcd has it.

import { type UpdateEngineError, isUpdateEngineError, omahaErrorCode } from '../errors.ts';
import { describeHalt } from '../lock/circuit-breaker.ts';
import { omahaEvents } from '../omaha/events.ts';
import type { EngineDeps } from './engine-deps.ts';
import { undoPendingUpdate } from './pending-update.ts';
import type { OmahaReporter } from './omaha-reporter.ts';
import type { StatusMachine } from './status.ts';

const isStoreError = (e: unknown): e is UpdateEngineError => isUpdateEngineError(e) && (e.code === 'ERR_LOCK_STORE' || e.code === 'ERR_LOCK_CONFLICT');

/**
 * Whether an offered version is halted in the lock group: the reason and the deferral's Omaha error
 * code, or undefined. When the breaker cannot be read the offer is taken (the download is harmless:
 * the reboot into it waits until the breaker can be read).
 */
export async function haltedOffer(deps: EngineDeps, version: string): Promise<{ reason: string; deferral: number } | undefined> {
  if (!deps.reboot.fleetHalt) return undefined;
  try {
    const halt = await deps.reboot.fleetHalt(version);
    deps.metrics?.fleetHalted?.(version, halt !== undefined);
    if (!halt) return undefined;
    return { reason: describeHalt(halt, deps.settings.lockGroup), deferral: omahaErrorCode('ERR_FLEET_HALTED') };
  } catch (e) {
    if (!isStoreError(e)) throw e;
    deps.logger.warn(
      { version, reason: e.message },
      'Cannot read the fleet circuit breaker; taking the offer (the reboot into it waits until the breaker can be read)',
    );
    return undefined;
  }
}

/**
 * The pending update's version was halted while this machine waited to reboot into it: undo the flip
 * (the booted slot stays first), drop the pending record, report it (3/0 code 36), go back to IDLE.
 * The version is not remembered as failed: after `locksmithctl resume` the next check takes it again.
 */
export async function abandonHaltedUpdate(deps: EngineDeps, machine: StatusMachine, reporter: OmahaReporter, error: UpdateEngineError): Promise<void> {
  const pending = (await deps.state.read()).pendingUpdate;
  if (pending) {
    const { disk, bootedPartition } = await deps.detectSlots();
    await undoPendingUpdate(deps, disk, bootedPartition, pending.partition);
    await deps.state.update((st) => {
      const next = { ...st };
      delete next.previousVersion;
      return next;
    });
    deps.metrics?.fleetHalted?.(pending.version, true);
  }
  deps.logger.error(
    { code: error.code, version: pending?.version },
    `Not rebooting: ${error.message}; the pending update was undone and partition ${pending?.partition ?? '?'} is out of the boot order`,
  );
  deps.metrics?.error(error.code);
  // 3/0, not 3/9: Nebraska ignores 3/9 and would keep counting the instance as updating (see update-cycle).
  await reporter.event(omahaEvents.error(omahaErrorCode(error.code)), deps.settings.version ?? '', new AbortController().signal).catch(() => undefined);
  if (machine.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT')
    machine.transition('UPDATE_STATUS_IDLE', { lastError: { code: error.code, message: error.message }, progress: 0 });
}

/**
 * Writes a rollback's failure record still waiting in the state (with the release of the lock, one
 * transaction). True when there is none left; false when the store cannot be reached (kept for later).
 */
export async function writePendingFailure(deps: EngineDeps, signal: AbortSignal): Promise<boolean> {
  const failure = (await deps.state.read()).fleetFailurePending;
  if (!failure) return true;
  try {
    await deps.reboot.afterRollback({ signal, logger: deps.logger, failure });
  } catch (e) {
    if (!isStoreError(e)) throw e;
    deps.logger.warn({ version: failure.version, reason: e.message }, 'Cannot record the failure in the fleet circuit breaker now; retrying');
    return false;
  }
  await deps.state.update((st) => {
    const next = { ...st };
    if (next.fleetFailurePending?.version === failure.version) delete next.fleetFailurePending;
    delete next.releaseLockPending;
    return next;
  });
  return true;
}

/** Retries writePendingFailure with a backoff (1 s doubling to 1 min) until it is written or the signal ends. */
export async function retryPendingFailure(deps: EngineDeps, signal: AbortSignal): Promise<void> {
  for (let delayMs = 1000; !signal.aborted; delayMs = Math.min(60_000, delayMs * 2)) {
    if (await writePendingFailure(deps, signal).catch(() => false)) return;
    await deps.clock.sleep(delayMs, signal).catch(() => undefined);
  }
}
