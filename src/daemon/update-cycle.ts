// The attempter's update cycle: check, then the typed chain plan -> apply -> postinstall -> finalize, with the
// status changes and Omaha events between the steps; a failure reports 3/0, takes the passive slot
// out of the boot order (only once the slot was touched) and backs off. A pending update is undone
// only after the newer payload's signed manifest verified (a forged offer costs nothing). A rollout
// refusal is "no update now" (src/daemon/refused-check.ts); a dropped offer is reported with 3/0.

import { OMAHA_ERROR, UpdateEngineError, classify, type ErrorCode } from '../errors.ts';
import { compareVersions } from '../config/values.ts';
import { errorEvent, omahaEvents } from '../omaha/events.ts';
import type { UpdateOffer } from '../omaha/offer.ts';
import type { InstallSource } from '../omaha/request-builder.ts';
import { undoPendingUpdate } from './pending-update.ts';
import { chain, runAction, type Action, type ActionContext } from './action.ts';
import { applyAction, type AppliedImage } from './actions/apply-action.ts';
import { finalizeAction, type FlippedSlot } from './actions/finalize-action.ts';
import { installAction } from './actions/install-action.ts';
import { planAction, type InstallPlan } from './actions/plan-action.ts';
import { bootBackendOf, type EngineDeps } from './engine-deps.ts';
import { haltedOffer } from './fleet-halt.ts';
import type { OmahaReporter } from './omaha-reporter.ts';
import { failureForManifest, failureForOffer, forgetFailures } from './failure-memory.ts';
import type { PayloadManifest } from '../payload/manifest.ts';
import type { StatusMachine } from './status.ts';
import { handleRefusedCheck } from './refused-check.ts';

export type CycleOutcome =
  | { kind: 'noupdate'; pollIntervalMs?: number }
  | { kind: 'pending-kept'; version: string; pollIntervalMs?: number }
  | { kind: 'deferred'; version: string; reason: string; pollIntervalMs?: number }
  | { kind: 'refused'; reason: string; explanation: string; pollIntervalMs?: number }
  | { kind: 'updated'; flipped: FlippedSlot; pollIntervalMs?: number }
  | { kind: 'failed'; error: UpdateEngineError; httpStatus?: number | undefined; checkFailed?: boolean };

/** Failures of the offer itself (nothing verified yet): retried at the next check, no backoff, never remembered against the version. */
const OFFER_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_PAYLOAD_SIGNATURE',
  'ERR_PAYLOAD_FORMAT',
  'ERR_PAYLOAD_HASH_MISMATCH',
  'ERR_PAYLOAD_SIZE_MISMATCH',
  'ERR_PAYLOAD_TARGET',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_IMAGE_VERIFICATION',
]);

/** Backoff after the n-th consecutive failure: 10 min doubling, at most 4 h. */
export function backoffMs(failures: number): number {
  return Math.min(4 * 3_600_000, 10 * 60_000 * 2 ** Math.max(0, failures - 1));
}

/** An action that runs a side effect and passes its input through (status changes, events). */
function tap<T>(name: string, effect: (input: T, ctx: ActionContext) => Promise<void>): Action<T, T> {
  return {
    name,
    async run(input, ctx) {
      await effect(input, ctx);
      return input;
    },
  };
}

export class UpdateCycle {
  constructor(
    private readonly deps: EngineDeps,
    private readonly status: StatusMachine,
    private readonly reporter: OmahaReporter,
  ) {}

  /** One check and, when there is an offer, one update. Never throws: failures are reported and returned. */
  async run(installSource: InstallSource, signal: AbortSignal): Promise<CycleOutcome> {
    const { deps, status } = this;
    const ctx = this.context(signal);
    const pendingBefore = (await deps.state.read()).pendingUpdate;
    status.transition('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    let offer: UpdateOffer | undefined;
    let touchedPassive: InstallPlan | undefined;
    let resumed = false;
    try {
      const result = await this.reporter.check(installSource, signal);
      const checkedAt = Math.floor(deps.clock.now() / 1000);
      const poll = result.pollIntervalMs !== undefined ? { pollIntervalMs: result.pollIntervalMs } : {};
      if (result.kind === 'noupdate') {
        deps.metrics?.checkFinished('noupdate');
        status.rest(pendingBefore, { lastCheckedTimeSeconds: checkedAt });
        return { kind: 'noupdate', ...poll };
      }
      if (result.kind === 'refused') {
        return await handleRefusedCheck(result, { deps, status, reporter: this.reporter, pendingBefore, checkedAt, signal });
      }
      offer = result;
      status.update({ lastCheckedTimeSeconds: checkedAt });
      const skip = await this.reasonToSkip(offer, installSource, pendingBefore?.version);
      if (skip) {
        deps.metrics?.checkFinished(skip.deferral ? 'deferred' : 'noupdate', offer.version);
        // The server granted this offer and counts it as in progress until told otherwise. Nebraska
        // ignores 3/9 (it has no such event type): only 3/0 ends the grant (status "error").
        if (skip.deferral) await this.reporter.event(omahaEvents.error(skip.deferral), deps.settings.version ?? '', signal);
        else if (pendingBefore && offer.version === pendingBefore.version)
          await this.reporter.event(omahaEvents.installed(), deps.settings.version ?? '', signal);
        deps.logger.info({ version: offer.version, reason: skip.reason }, 'Update offer not taken');
        status.rest(pendingBefore);
        return skip.deferral
          ? { kind: 'deferred', version: offer.version, reason: skip.reason, ...poll }
          : { kind: 'pending-kept', version: pendingBefore?.version ?? offer.version, ...poll };
      }
      deps.metrics?.checkFinished('update', offer.version);
      if (deps.settings.version !== undefined && !deps.settings.allowDowngrade && compareVersions(offer.version, deps.settings.version) <= 0) {
        throw new UpdateEngineError(
          'ERR_PAYLOAD_DOWNGRADE',
          `The server offered version "${offer.version}", not newer than the running "${deps.settings.version}"; set ALLOW_DOWNGRADE=true to accept it`,
        );
      }
      status.transition('UPDATE_STATUS_UPDATE_AVAILABLE', { newVersion: offer.version, newSizeBytes: offer.sizeBytes });
      const flipped = await runAction(
        this.installChain(
          pendingBefore,
          (plan) => (touchedPassive = plan),
          (r) => (resumed = r),
        ),
        offer,
        ctx,
      );
      status.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT', { progress: 1 });
      await deps.state.update((st) => {
        const next = { ...forgetFailures(st, flipped.version, deps.clock.now(), deps.settings.failedVersionTtlMs), failureCount: 0 };
        delete next.backoffUntilMs;
        return next;
      });
      return { kind: 'updated', flipped, ...poll };
    } catch (e) {
      const error = e instanceof UpdateEngineError ? e : new UpdateEngineError('ERR_INTERNAL', String(e), { cause: e });
      return this.fail(error, { offer, touchedPassive, resumed, pendingBefore: pendingBefore !== undefined && touchedPassive === undefined, signal });
    }
  }

  /**
   * After the payload's signed manifest verified (signature, app id, board, version, size) and before
   * the slot is touched: the manifest must be the offered version and not a release remembered as
   * failed; only then is a pending update undone (a forged offer never gets this far).
   */
  private async beforeWrite(
    manifest: PayloadManifest,
    plan: InstallPlan,
    pending: { partition: number } | undefined,
    onTouch: (p: InstallPlan) => void,
  ): Promise<void> {
    const { deps } = this;
    if (manifest.version !== plan.offer.version) {
      throw new UpdateEngineError('ERR_PAYLOAD_TARGET', `The payload is version "${manifest.version}" but the server offered "${plan.offer.version}"`);
    }
    const failed = failureForManifest(await deps.state.read(), manifest, deps.clock.now(), deps.settings.failedVersionTtlMs);
    if (failed) {
      throw new UpdateEngineError(
        'ERR_DEFERRED_BACKOFF',
        `Version ${manifest.version} (image ${manifest.imageSha256.slice(0, 12)}) failed before (${failed.reason}); reset with update_engine_client -reset_status`,
      );
    }
    onTouch(plan);
    if (pending) {
      // A newer, verified payload replaces the pending update: undo its flip before writing over it.
      await undoPendingUpdate(deps, plan.disk, plan.booted.partition, plan.passive.partition);
      deps.logger.info({ replaced: pending.partition, version: manifest.version }, 'Pending update undone; a newer verified one replaces it');
    }
  }

  /** The chain after an offer: plan -> 13/1 -> apply (verify, then undo a pending flip) -> 14/1 -> postinstall -> finalize -> 800/1 (installed). */
  private installChain(pending: { partition: number } | undefined, onTouch: (p: InstallPlan) => void, onResume: (r: boolean) => void) {
    const { deps, status, reporter } = this;
    const running = () => deps.settings.version ?? '';
    return chain(
      planAction(deps),
      tap<InstallPlan>('prepare-slot', async (_plan, ctx) => {
        status.transition('UPDATE_STATUS_DOWNLOADING', { progress: 0 });
        await reporter.event(omahaEvents.downloadStarted(), running(), ctx.signal);
      }),
      applyAction(deps, { beforeWrite: (manifest, plan) => this.beforeWrite(manifest, plan, pending, onTouch) }),
      tap<AppliedImage>('downloaded', async (applied, ctx) => {
        onResume(applied.result.resumed);
        status.transition('UPDATE_STATUS_VERIFYING', { progress: 1 });
        deps.metrics?.phase('download', applied.downloadMs / 1000);
        const { result, downloadMs } = applied;
        const download = { downloadedBytes: result.payloadBytesFetched, totalBytes: result.payloadSizeBytes, downloadTimeMs: downloadMs };
        await reporter.event(omahaEvents.downloadFinished(download), running(), ctx.signal);
        status.transition('UPDATE_STATUS_FINALIZING', { progress: 1 });
      }),
      installAction(deps, deps.installHooks),
      finalizeAction(deps),
      tap<FlippedSlot>('installed', async (_flipped, ctx) => {
        await reporter.event(omahaEvents.installed(), running(), ctx.signal);
      }),
    );
  }

  /** Why an offer is not taken: it is already pending (or older), it failed before, or we back off. */
  private async reasonToSkip(
    offer: UpdateOffer,
    installSource: InstallSource,
    pendingVersion: string | undefined,
  ): Promise<{ reason: string; deferral?: number } | undefined> {
    if (pendingVersion !== undefined && compareVersions(offer.version, pendingVersion) <= 0) {
      return { reason: `version ${pendingVersion} is already installed and waits for a reboot` };
    }
    const state = await this.deps.state.read();
    const failed = failureForOffer(state, offer, this.deps.clock.now(), this.deps.settings.failedVersionTtlMs);
    if (failed) {
      // The failure itself was reported once with its own code (18, 44, ...); ending this grant says
      // "deferred" (40), so that the server does not count the same failure again.
      return {
        reason: `version ${offer.version} failed before (${failed.reason}); reset with update_engine_client -reset_status`,
        deferral: OMAHA_ERROR.omahaUpdateDeferredForBackoff,
      };
    }
    const halted = await haltedOffer(this.deps, offer.version);
    if (halted) return halted;
    const nowMs = this.deps.clock.now();
    if (installSource === 'scheduler' && !offer.disablePayloadBackoff && state.backoffUntilMs !== undefined && state.backoffUntilMs > nowMs) {
      return { reason: `backing off after ${state.failureCount} failures until ${new Date(state.backoffUntilMs).toISOString()}`, deferral: 40 };
    }
    return undefined;
  }

  private async fail(
    error: UpdateEngineError,
    info: { offer: UpdateOffer | undefined; touchedPassive: InstallPlan | undefined; resumed: boolean; pendingBefore: boolean; signal: AbortSignal },
  ): Promise<CycleOutcome> {
    const { deps, status } = this;
    const aborted = error.code === 'ERR_ABORTED';
    deps.metrics?.error(error.code);
    if (!aborted) deps.logger.error({ code: error.code, err: error }, `Update cycle failed: ${error.message}`);
    status.transition('UPDATE_STATUS_REPORTING_ERROR_EVENT', { lastError: { code: error.code, message: error.message } });
    if (info.touchedPassive) {
      await bootBackendOf(deps)
        .disable(info.touchedPassive.disk, info.touchedPassive.passive.partition)
        .catch((e: unknown) => deps.logger.error({ err: e }, 'Cannot take the passive slot out of the boot order'));
    }
    if (info.offer && !aborted) {
      const quiet = new AbortController().signal;
      await this.reporter
        .event(errorEvent(error, { resumedDownload: info.resumed, nonDefaultServer: false }), deps.settings.version ?? '', quiet)
        .catch(() => undefined);
    }
    if (!aborted) {
      const nowMs = deps.clock.now();
      await deps.state
        .update((st) => {
          const next = { ...st, failureCount: st.failureCount + 1 };
          // Only a failed update defers later offers; a failed check slows the check cadence instead
          // (the scheduler), so that a later grant is never refused for it. A bad answer or payload
          // counts against that offer only: nothing is remembered against the version, and the next
          // check tries again (failure-memory.ts: only verified releases that failed count).
          const offerOnly = info.touchedPassive === undefined && OFFER_FAILURES.has(error.code);
          if (info.offer && classify(error.code) !== 'retry' && !offerOnly) next.backoffUntilMs = nowMs + backoffMs(next.failureCount);
          return next;
        })
        .catch((e: unknown) => deps.logger.error({ err: e }, 'Cannot record the failure in the state'));
    }
    const pending = info.pendingBefore ? (await deps.state.read()).pendingUpdate : undefined;
    status.rest(pending);
    return { kind: 'failed', error, httpStatus: error.httpStatus, ...(info.offer ? {} : { checkFailed: true }) };
  }

  private context(signal: AbortSignal): ActionContext {
    return {
      signal,
      logger: this.deps.logger,
      progress: (fraction, detail) => {
        this.status.update({ progress: Math.min(1, Math.max(0, fraction)), ...(detail !== undefined ? { currentOperation: detail } : {}) });
      },
    };
  }
}
