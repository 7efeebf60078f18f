// Omaha event types and results (update_engine numbering, REFERENCE §1; 800 "installed" is Nebraska's),
// the events this client sends, and the rule that errorcode goes only with result 0 (error) or 9 (deferred).

import { UpdateEngineError, omahaErrorCode, OMAHA_ERROR, OMAHA_ERROR_FLAG } from '../errors.ts';

/** Event types as update_engine numbers them. */
export const EVENT_TYPE = {
  updateComplete: 3,
  updateDownloadStarted: 13,
  updateDownloadFinished: 14,
  /** Nebraska's EventUpdateInstalled (backend/pkg/api/events.go): status "installed", distinct from 3/1. */
  updateInstalled: 800,
} as const;

/** Event results as update_engine numbers them. */
export const EVENT_RESULT = {
  error: 0,
  success: 1,
  successReboot: 2,
  updateDeferred: 9,
} as const;

/** One `<event>` element of a request. */
export interface OmahaEvent {
  eventType: number;
  eventResult: number;
  /** Only with eventResult 0 (error) or 9 (deferred); required with 0. */
  errorCode?: number;
  /** Only on the 3/2 event of an update check. */
  previousVersion?: string;
  /**
   * Only on 14/1: the Omaha v3 event attributes `downloaded` (payload bytes fetched; a delta fetches
   * fewer than `total`), `total` (the payload's size) and `download_time_ms`. Nebraska ignores them;
   * servers that keep event attributes see how much a delta saved.
   */
  download?: { downloadedBytes: number; totalBytes: number; downloadTimeMs: number } | undefined;
}

/** The events of an update, by name. */
export const omahaEvents = {
  /** 13/1: the payload download started. */
  downloadStarted: (): OmahaEvent => ({ eventType: 13, eventResult: 1 }),
  /** 14/1: the payload was downloaded and verified (with the bytes fetched of the payload's total, when known). */
  downloadFinished: (download?: OmahaEvent['download']): OmahaEvent => ({ eventType: 14, eventResult: 1, ...(download && { download }) }),
  /**
   * 800/1: installed, waiting for the reboot. Not 3/1: Nebraska marks an instance of any app id but
   * Flatcar's "complete" on 3/1 (triggerEventConsequences), before any reboot or health check.
   */
  installed: (): OmahaEvent => ({ eventType: 800, eventResult: 1 }),
  /** 3/2 with previousversion: the update is complete (sent once, after the new slot was marked good). */
  updateComplete: (previousVersion: string): OmahaEvent => ({ eventType: 3, eventResult: 2, previousVersion }),
  /** 3/0 with an Omaha error code. */
  error: (errorCode: number): OmahaEvent => ({ eventType: 3, eventResult: 0, errorCode }),
  /** 3/9 with an Omaha error code: the update was deferred. Nebraska ignores 3/9 (no such event type): not sent to it. */
  deferred: (errorCode: number): OmahaEvent => ({ eventType: 3, eventResult: 9, errorCode }),
  /** 3/0 errorcode 44: the machine came back on the version it had before the update. */
  rollback: (): OmahaEvent => ({ eventType: 3, eventResult: 0, errorCode: OMAHA_ERROR.rollback }),
};

export interface ErrorEventFlags {
  /** The failed download had been resumed (update_engine's kActionCodeResumedFlag). */
  resumedDownload?: boolean;
  /** SERVER is not the default server (update_engine's kActionCodeTestOmahaUrlFlag). */
  nonDefaultServer?: boolean;
}

/** The 3/0 event for an error, with its Omaha code and flag bits. */
export function errorEvent(error: UpdateEngineError, flags: ErrorEventFlags = {}): OmahaEvent {
  let code = omahaErrorCode(error);
  if (flags.resumedDownload) code |= OMAHA_ERROR_FLAG.resumedDownload;
  if (flags.nonDefaultServer) code |= OMAHA_ERROR_FLAG.nonDefaultServer;
  return omahaEvents.error(code >>> 0);
}

/** Throws ERR_INTERNAL for an event that update_engine would never send (a bug in the caller). */
export function assertValidEvent(event: OmahaEvent): void {
  const describe = `event ${event.eventType}/${event.eventResult}`;
  if (!Number.isInteger(event.eventType) || event.eventType < 0 || !Number.isInteger(event.eventResult) || event.eventResult < 0) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: type and result must be non-negative integers`);
  }
  const takesCode = event.eventResult === EVENT_RESULT.error || event.eventResult === EVENT_RESULT.updateDeferred;
  if (event.errorCode !== undefined && !takesCode) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: errorcode ${event.errorCode} is only sent with result 0 or 9`);
  }
  if (event.eventResult === EVENT_RESULT.error && event.errorCode === undefined) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: an error event needs an errorcode`);
  }
  if (event.errorCode !== undefined && (!Number.isInteger(event.errorCode) || event.errorCode < 0 || event.errorCode > 0xffffffff)) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: errorcode ${event.errorCode} is not a 32-bit unsigned integer`);
  }
  if (event.previousVersion !== undefined && !(event.eventType === EVENT_TYPE.updateComplete && event.eventResult === EVENT_RESULT.successReboot)) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: previousversion belongs only to event 3/2`);
  }
  if (event.download && !(event.eventType === EVENT_TYPE.updateDownloadFinished && event.eventResult === EVENT_RESULT.success)) {
    throw new UpdateEngineError('ERR_INTERNAL', `Invalid Omaha ${describe}: downloaded/total/download_time_ms belong only to event 14/1`);
  }
}
