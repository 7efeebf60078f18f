// A check the server refused (Nebraska's rollout policy, or an update it counts as in progress):
// "no update now", never a failure. Nothing is counted or remembered and no backoff follows; when
// the server counts an update in progress that this machine does not have, a 3/0 ends it there.

import { OMAHA_ERROR } from '../errors.ts';
import { omahaEvents } from '../omaha/events.ts';
import type { RefusedCheck } from '../omaha/offer.ts';
import type { EngineDeps } from './engine-deps.ts';
import type { OmahaReporter } from './omaha-reporter.ts';
import type { PersistedState } from './state-store.ts';
import type { StatusMachine } from './status.ts';
import type { CycleOutcome } from './update-cycle.ts';

export interface RefusedCheckContext {
  deps: EngineDeps;
  status: StatusMachine;
  reporter: OmahaReporter;
  pendingBefore: PersistedState['pendingUpdate'];
  checkedAt: number;
  signal: AbortSignal;
}

/** The one line -check_for_update and -update print, and the log says. */
export function refusalNote(result: Pick<RefusedCheck, 'reason' | 'explanation'>): string {
  return `The server holds the update back (${result.reason}): ${result.explanation}; the next check comes at the normal time`;
}

export async function handleRefusedCheck(result: RefusedCheck, ctx: RefusedCheckContext): Promise<CycleOutcome> {
  const { deps, status, pendingBefore } = ctx;
  deps.metrics?.checkFinished('refused');
  deps.metrics?.checkRefused?.(result.reason);
  if (result.refusal === 'in-progress') {
    if (pendingBefore) {
      // Expected: the server recorded "installed" (800/1) and waits for the 3/2 after the reboot.
      deps.logger.info({ reason: result.reason, pending: pendingBefore.version }, 'No newer update while the installed one waits for a reboot');
      status.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT', {
        lastCheckedTimeSeconds: ctx.checkedAt,
        newVersion: pendingBefore.version,
        newSizeBytes: pendingBefore.sizeBytes,
        progress: 1,
      });
      return { kind: 'pending-kept', version: pendingBefore.version };
    }
    // The server counts an update in progress that this machine dropped (a restart during the
    // download, a reset): 3/0 is the one event Nebraska takes in every in-progress status.
    deps.logger.warn({ reason: result.reason }, 'The server counts an update in progress that this machine is not running; reporting it as ended (3/0)');
    await ctx.reporter.event(omahaEvents.error(OMAHA_ERROR.error), deps.settings.version ?? '', ctx.signal);
  } else {
    deps.logger.info({ reason: result.reason, explanation: result.explanation }, refusalNote(result));
  }
  const note =
    result.refusal === 'in-progress'
      ? `The server counted an update in progress (${result.reason}) that this machine is not running; it was told the update ended (3/0); the next check comes at the normal time`
      : refusalNote(result);
  if (pendingBefore) {
    status.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT', {
      lastCheckedTimeSeconds: ctx.checkedAt,
      newVersion: pendingBefore.version,
      newSizeBytes: pendingBefore.sizeBytes,
      progress: 1,
      checkNote: note,
    });
  } else {
    status.transition('UPDATE_STATUS_IDLE', { lastCheckedTimeSeconds: ctx.checkedAt, checkNote: note });
  }
  return { kind: 'refused', reason: result.reason, explanation: result.explanation };
}
