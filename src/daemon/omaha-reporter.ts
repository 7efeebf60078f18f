// Talks to the Omaha server for the engine: the client identity of every request, update checks
// (carrying the one-shot 3/2 or rollback report when it is still undelivered), the completion report
// right after the new slot was marked good, and events that are queued in the state when undelivered.

import { UpdateEngineError } from '../errors.ts';
import { omahaEvents, type OmahaEvent } from '../omaha/events.ts';
import type { CheckResult } from '../omaha/offer.ts';
import type { InstallSource, OmahaClientInfo } from '../omaha/request-builder.ts';
import type { EngineDeps } from './engine-deps.ts';
import type { PersistedState } from './state-store.ts';

/** Events kept for later delivery, at most (the oldest are dropped first). */
export const MAX_PENDING_EVENTS = 20;

/** The version sent when the running version is unknown (Nebraska needs a semver-like value). */
export const UNKNOWN_VERSION = '0.0.0';

export class OmahaReporter {
  constructor(private readonly deps: EngineDeps) {}

  /** The `<app>` attributes of every request. */
  clientInfo(state: PersistedState, installSource: InstallSource = 'scheduler'): OmahaClientInfo {
    const s = this.deps.settings;
    const version = s.version ?? UNKNOWN_VERSION;
    return {
      appId: s.appId,
      version,
      track: s.group,
      machineId: this.deps.identity.machineId,
      bootId: this.deps.identity.bootId,
      alephVersion: state.alephVersion ?? version,
      machineAlias: s.machineAlias,
      board: s.board,
      oem: this.deps.identity.oem,
      oemVersion: this.deps.identity.oemVersion,
      installSource,
    };
  }

  /**
   * previousversion of the one 3/2 event, while it is owed: the version before the update, once the new
   * slot was marked good (no pending update left). Undefined otherwise: no other request says 3/2, since
   * Nebraska takes any 3/2 as "complete" (or, for Flatcar's app id with "" or 0.0.0.0, resets the instance).
   */
  previousVersionFor(state: PersistedState): string | undefined {
    if (state.pendingUpdate === undefined && state.previousVersion !== undefined) return state.previousVersion;
    return undefined;
  }

  /**
   * Right after the new slot was marked good (or the machine came back on the old one): reports 3/2 with
   * previousversion (or 3/0 errorcode 44) at once, in an event-only request. When it cannot be delivered
   * the next update check carries it. Never throws for delivery failures.
   */
  async reportBootOutcome(signal: AbortSignal): Promise<void> {
    if (!this.deps.omaha) return;
    const state = await this.deps.state.read();
    const previous = this.previousVersionFor(state);
    const event = state.reportRollback ? omahaEvents.rollback() : previous !== undefined ? omahaEvents.updateComplete(previous) : undefined;
    if (!event) return;
    try {
      await this.send(event, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      this.deps.logger.warn(
        { event: `${event.eventType}/${event.eventResult}`, reason: (e as Error).message },
        'Omaha report not delivered; the next update check carries it',
      );
      return;
    }
    await this.deps.state.update((st) => {
      const next = { ...st };
      if (event.eventResult === 0) delete next.reportRollback;
      else delete next.previousVersion;
      return next;
    });
  }

  /** Sends an update check; on success the one-shot report (previousversion, rollback) is cleared. */
  async check(installSource: InstallSource, signal: AbortSignal): Promise<CheckResult> {
    const omaha = this.requireOmaha();
    await this.flush(signal);
    const state = await this.deps.state.read();
    const result = await omaha.checkForUpdate(
      (() => {
        const previousVersion = this.previousVersionFor(state);
        return {
          ...this.clientInfo(state, installSource),
          previousVersion,
          rollback: state.reportRollback === true,
        };
      })(),
      signal,
    );
    const nowMs = this.deps.clock.now();
    await this.deps.state.update((st) => {
      const next: PersistedState = { ...st, lastCheckTimeMs: nowMs, alephVersion: st.alephVersion ?? this.clientInfo(st).version };
      delete next.reportRollback;
      if (next.pendingUpdate === undefined) delete next.previousVersion;
      return next;
    });
    return result;
  }

  /** Sends one event now; when that fails, keeps it in the state for the next request. Never throws for delivery failures. */
  async event(event: OmahaEvent, version: string, signal: AbortSignal): Promise<void> {
    if (!this.deps.omaha) return;
    try {
      await this.send(event, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      this.deps.logger.warn({ event: `${event.eventType}/${event.eventResult}`, reason: (e as Error).message }, 'Omaha event not delivered; kept for later');
      await this.deps.state.update((st) => ({
        ...st,
        pendingEvents: [...st.pendingEvents, { ...event, version, createdAtMs: this.deps.clock.now() }].slice(-MAX_PENDING_EVENTS),
      }));
    }
  }

  /** Sends the events kept from earlier; stops at the first failure (they stay queued). */
  async flush(signal: AbortSignal): Promise<void> {
    const state = await this.deps.state.read();
    let delivered = 0;
    for (const pending of state.pendingEvents) {
      const event: OmahaEvent = { eventType: pending.eventType, eventResult: pending.eventResult };
      if (pending.errorCode !== undefined) event.errorCode = pending.errorCode;
      if (pending.previousVersion !== undefined) event.previousVersion = pending.previousVersion;
      try {
        await this.send(event, signal, pending.version);
      } catch (e) {
        if (signal.aborted) throw e;
        break;
      }
      delivered += 1;
    }
    if (delivered > 0) await this.deps.state.update((st) => ({ ...st, pendingEvents: st.pendingEvents.slice(delivered) }));
  }

  private async send(event: OmahaEvent, signal: AbortSignal, version?: string): Promise<void> {
    const omaha = this.requireOmaha();
    const state = await this.deps.state.read();
    const info = this.clientInfo(state);
    await omaha.sendEvent({ ...info, ...(version ? { version } : {}), event }, signal);
  }

  private requireOmaha() {
    if (!this.deps.omaha) throw new UpdateEngineError('ERR_INTERNAL', 'No Omaha server is configured (SERVER=disabled)');
    return this.deps.omaha;
  }
}
