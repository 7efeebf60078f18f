// The daemon's status (update_engine's UPDATE_STATUS_* names) and StatusMachine: the current
// snapshot, transitions that assert, change listeners, `-status` text. Two tables say everything about
// a transition: ALLOWED_TRANSITIONS (where a status may go) and ON_ENTER (which fields entering a
// status resets). To add a status or a transition, add a row to each; the compiler checks both.
// What a transition persists (the pending update) is in pending-update.ts, written one way.

import { UpdateEngineError, type ErrorCode } from '../errors.ts';

/** The statuses, as update_engine prints them (REFERENCE §2). */
export const UPDATE_STATUSES = [
  'UPDATE_STATUS_IDLE',
  'UPDATE_STATUS_CHECKING_FOR_UPDATE',
  'UPDATE_STATUS_UPDATE_AVAILABLE',
  'UPDATE_STATUS_DOWNLOADING',
  'UPDATE_STATUS_VERIFYING',
  'UPDATE_STATUS_FINALIZING',
  'UPDATE_STATUS_UPDATED_NEED_REBOOT',
  'UPDATE_STATUS_REPORTING_ERROR_EVENT',
] as const;

export type UpdateStatus = (typeof UPDATE_STATUSES)[number];

/**
 * Allowed transitions: update_engine's, plus this project's own (marked). Any status may go to
 * REPORTING_ERROR_EVENT. Anything not listed is a bug in the caller.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<UpdateStatus, readonly UpdateStatus[]>> = {
  UPDATE_STATUS_IDLE: [
    'UPDATE_STATUS_CHECKING_FOR_UPDATE',
    'UPDATE_STATUS_UPDATED_NEED_REBOOT', // project: locksmithctl send-need-reboot
    'UPDATE_STATUS_REPORTING_ERROR_EVENT',
  ],
  UPDATE_STATUS_CHECKING_FOR_UPDATE: [
    'UPDATE_STATUS_IDLE', // no update
    'UPDATE_STATUS_UPDATE_AVAILABLE',
    'UPDATE_STATUS_UPDATED_NEED_REBOOT', // project: a check while a reboot is pending found nothing newer
    'UPDATE_STATUS_REPORTING_ERROR_EVENT',
  ],
  UPDATE_STATUS_UPDATE_AVAILABLE: ['UPDATE_STATUS_DOWNLOADING', 'UPDATE_STATUS_REPORTING_ERROR_EVENT'],
  UPDATE_STATUS_DOWNLOADING: ['UPDATE_STATUS_VERIFYING', 'UPDATE_STATUS_REPORTING_ERROR_EVENT'],
  UPDATE_STATUS_VERIFYING: ['UPDATE_STATUS_FINALIZING', 'UPDATE_STATUS_REPORTING_ERROR_EVENT'],
  UPDATE_STATUS_FINALIZING: ['UPDATE_STATUS_UPDATED_NEED_REBOOT', 'UPDATE_STATUS_REPORTING_ERROR_EVENT'],
  UPDATE_STATUS_UPDATED_NEED_REBOOT: [
    'UPDATE_STATUS_CHECKING_FOR_UPDATE', // project: keep checking; a newer offer replaces the pending update
    'UPDATE_STATUS_IDLE', // project: -reset_status undid the flip
    'UPDATE_STATUS_REPORTING_ERROR_EVENT',
  ],
  UPDATE_STATUS_REPORTING_ERROR_EVENT: [
    'UPDATE_STATUS_IDLE',
    'UPDATE_STATUS_UPDATED_NEED_REBOOT', // project: a failed check while a reboot is pending keeps the flip
  ],
};

export function isAllowedTransition(from: UpdateStatus, to: UpdateStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** What went wrong in the last cycle (kept until the next check starts). */
export interface StatusError {
  code: ErrorCode;
  message: string;
}

/** The daemon's status as the control socket reports it. */
export interface StatusSnapshot {
  status: UpdateStatus;
  /** Fraction 0..1 of the current step (download progress while DOWNLOADING). */
  progress: number;
  /** Unix time in seconds of the last completed check; 0 = never. */
  lastCheckedTimeSeconds: number;
  /** Version offered or pending; "0.0.0" when there is none. */
  newVersion: string;
  /** Payload size of the offer in bytes; 0 when there is none. */
  newSizeBytes: number;
  /** Human-readable detail of the current step (e.g. "writing block 12 of 40"); "" when idle. */
  currentOperation: string;
  /** The error of the last failed cycle, or null. */
  lastError: StatusError | null;
  /** Why the last check brought no update although the server had one (a rollout refusal); absent otherwise. */
  checkNote?: string | undefined;
}

/** Fields a transition or an update may set (status changes only through transition()). */
export type StatusChanges = Partial<Omit<StatusSnapshot, 'status'>>;

export type StatusListener = (snapshot: StatusSnapshot, previous: StatusSnapshot) => void;

export const NO_VERSION = '0.0.0';

export const IDLE_SNAPSHOT: StatusSnapshot = Object.freeze({
  status: 'UPDATE_STATUS_IDLE',
  progress: 0,
  lastCheckedTimeSeconds: 0,
  newVersion: NO_VERSION,
  newSizeBytes: 0,
  currentOperation: '',
  lastError: null,
});

/**
 * What entering a status resets, unless the transition sets it: progress and the detail belong to a
 * step; IDLE has no offer; a new check forgets the last error.
 */
const ON_ENTER: Readonly<Record<UpdateStatus, StatusChanges>> = {
  UPDATE_STATUS_IDLE: { progress: 0, currentOperation: '', newVersion: NO_VERSION, newSizeBytes: 0 },
  UPDATE_STATUS_CHECKING_FOR_UPDATE: { progress: 0, currentOperation: '', lastError: null },
  UPDATE_STATUS_UPDATE_AVAILABLE: { progress: 0, currentOperation: '' },
  UPDATE_STATUS_DOWNLOADING: { progress: 0, currentOperation: '' },
  UPDATE_STATUS_VERIFYING: { progress: 0, currentOperation: '' },
  UPDATE_STATUS_FINALIZING: { progress: 0, currentOperation: '' },
  UPDATE_STATUS_UPDATED_NEED_REBOOT: { progress: 0, currentOperation: '' },
  UPDATE_STATUS_REPORTING_ERROR_EVENT: { progress: 0, currentOperation: '' },
};

/**
 * PROGRESS as update_engine reports it: the download fraction while DOWNLOADING, else 0 (its
 * download_progress_ is reset when the download action completes, so VERIFYING, FINALIZING and
 * UPDATED_NEED_REBOOT show 0.000000; update_attempter.cc ActionCompleted).
 */
export function updateEngineProgress(s: Pick<StatusSnapshot, 'status' | 'progress'>): number {
  return s.status === 'UPDATE_STATUS_DOWNLOADING' ? s.progress : 0;
}

/** update_engine_client -status output, exactly (REFERENCE §2), with a trailing newline. */
export function formatStatusText(s: StatusSnapshot): string {
  return [
    `LAST_CHECKED_TIME=${Math.floor(s.lastCheckedTimeSeconds)}`,
    `PROGRESS=${updateEngineProgress(s).toFixed(6)}`,
    `CURRENT_OP=${s.status}`,
    `NEW_VERSION=${s.newVersion === '' ? NO_VERSION : s.newVersion}`,
    `NEW_SIZE=${Math.floor(s.newSizeBytes)}`,
    '',
  ].join('\n');
}

function checkProgress(progress: number): void {
  if (!(progress >= 0 && progress <= 1)) {
    throw new UpdateEngineError('ERR_INTERNAL', `Progress must be a fraction from 0 to 1, got ${progress}`);
  }
}

/** Holds the current snapshot. transition(to) asserts ALLOWED_TRANSITIONS and applies ON_ENTER. Listeners run synchronously, in order. */
export class StatusMachine {
  #current: StatusSnapshot;
  readonly #listeners = new Set<StatusListener>();

  constructor(initial: Partial<StatusSnapshot> = {}) {
    this.#current = Object.freeze({ ...IDLE_SNAPSHOT, ...initial });
    checkProgress(this.#current.progress);
  }

  get status(): UpdateStatus {
    return this.#current.status;
  }

  /** The current snapshot (immutable). */
  snapshot(): StatusSnapshot {
    return this.#current;
  }

  canTransition(to: UpdateStatus): boolean {
    return isAllowedTransition(this.#current.status, to);
  }

  /** Moves to `to`; an illegal transition is a bug and throws ERR_INTERNAL without changing anything. */
  transition(to: UpdateStatus, changes: StatusChanges = {}): StatusSnapshot {
    const from = this.#current.status;
    if (!isAllowedTransition(from, to)) {
      throw new UpdateEngineError('ERR_INTERNAL', `Illegal status transition from ${from} to ${to}`, { details: { from, to } });
    }
    const next: StatusSnapshot = { ...this.#current, ...ON_ENTER[to], ...changes, status: to };
    // A check's note (a rollout refusal) belongs to that check only.
    if (to === 'UPDATE_STATUS_CHECKING_FOR_UPDATE' && changes.checkNote === undefined) delete next.checkNote;
    return this.#set(next);
  }

  /** Ends a cycle: UPDATED_NEED_REBOOT showing the pending update when there is one, else IDLE. */
  rest(pending: { version: string; sizeBytes: number } | undefined, changes: StatusChanges = {}): StatusSnapshot {
    if (pending === undefined) return this.transition('UPDATE_STATUS_IDLE', changes);
    return this.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT', { newVersion: pending.version, newSizeBytes: pending.sizeBytes, progress: 1, ...changes });
  }

  /** Changes fields without a status change (progress, detail); notifies listeners. */
  update(changes: StatusChanges): StatusSnapshot {
    return this.#set({ ...this.#current, ...changes });
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #set(next: StatusSnapshot): StatusSnapshot {
    checkProgress(next.progress);
    const previous = this.#current;
    this.#current = Object.freeze(next);
    let failure: unknown;
    for (const listener of [...this.#listeners]) {
      try {
        listener(this.#current, previous);
      } catch (e) {
        failure ??= e;
      }
    }
    // A throwing listener is a bug; the others still ran and the change stands.
    if (failure !== undefined) throw new UpdateEngineError('ERR_INTERNAL', 'A status listener failed', { cause: failure });
    return this.#current;
  }
}
