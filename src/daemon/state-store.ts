// Persisted daemon state: one JSON file in STATE_DIR, written atomically (temp, fsync, rename, fsync
// dir) and zod-validated on read; plus the need-reboot marker in RUN_DIR, which a reboot clears.
// Recovery from a corrupt state file: load() moves it aside to state.json.corrupt-<ms>, warns, starts fresh.

import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ERROR_CODES, UpdateEngineError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';

export { writeFileAtomic };

const count = z.number().int().nonnegative();
const timeMs = z.number().int().nonnegative();

const stateSchema = z.object({
  /** Format version of this file. */
  formatVersion: z.literal(1),
  /** Wall time (ms) of the last completed update check. */
  lastCheckTimeMs: timeMs.optional(),
  /** The version before the pending update (Omaha previousversion after the reboot). */
  previousVersion: z.string().optional(),
  /** The first version this machine ever ran (Omaha alephversion). */
  alephVersion: z.string().optional(),
  /** The update applied and flipped to, waiting for a reboot. */
  pendingUpdate: z
    .object({
      version: z.string(),
      sizeBytes: count,
      partition: z.number().int().min(1),
      appliedAtMs: timeMs,
      /** The signed manifest's image SHA-256 (hex) and the payload file's SHA-256 (base64): what a rollback is keyed by. */
      imageSha256Hex: z.string().optional(),
      payloadSha256Base64: z.string().optional(),
      /** The signed manifest's build time (Unix seconds), when it has one. */
      buildTimeSeconds: count.optional(),
    })
    .optional(),
  /** Build time (Unix seconds) of the running version, learnt from its signed manifest when it was marked good. */
  runningBuildTimeSeconds: count.optional(),
  /** Verified releases that failed after their flip: not applied again until a newer one is applied, FAILED_VERSION_TTL, or a reset (failure-memory.ts). */
  failedVersions: z.record(
    z.string(),
    z.object({
      reason: z.string(),
      code: z.enum(ERROR_CODES).optional(),
      count: count,
      lastFailedAtMs: timeMs,
      imageSha256Hex: z.string().optional(),
      payloadSha256Base64: z.string().optional(),
    }),
  ),
  /** Consecutive failed cycles (reset by a success). */
  failureCount: count,
  /** No new attempt before this wall time (ms). */
  backoffUntilMs: timeMs.optional(),
  /** The machine came back on the old slot: the next update check reports 3/0 errorcode 44 instead of 3/2. */
  reportRollback: z.boolean().optional(),
  /** The reboot lock could not be released when the update ended (etcd unreachable): retried before each check. */
  releaseLockPending: z.boolean().optional(),
  /** A rollback not yet recorded in the fleet circuit breaker (etcd unreachable): retried until written. */
  fleetFailurePending: z.object({ version: z.string(), code: z.enum(ERROR_CODES), atMs: timeMs }).optional(),
  /** Which download the payload checkpoint in STATE_DIR belongs to. */
  resumePoint: z.object({ version: z.string(), payloadSha256Base64: z.string(), partition: z.number().int().min(1), checkpointPath: z.string() }).optional(),
  /** Omaha events not yet delivered, oldest first. */
  pendingEvents: z.array(
    z.object({
      eventType: count,
      eventResult: count,
      errorCode: z.number().int().optional(),
      version: z.string(),
      previousVersion: z.string().optional(),
      createdAtMs: timeMs,
    }),
  ),
});

export type PersistedState = z.infer<typeof stateSchema>;

export const STATE_FILE_NAME = 'state.json';
export const NEED_REBOOT_FILE_NAME = 'need-reboot';

/** The state of a machine the daemon has never run on. */
export function freshState(): PersistedState {
  return { formatVersion: 1, failedVersions: {}, failureCount: 0, pendingEvents: [] };
}

/** Remembers that `version` failed (it is not applied again until reset or a newer offer). */
export function recordFailedVersion(
  state: PersistedState,
  version: string,
  failure: { reason: string; code?: PersistedState['failedVersions'][string]['code'] | undefined },
  nowMs: number,
): PersistedState {
  const previous = state.failedVersions[version];
  const entry = { reason: failure.reason, count: (previous?.count ?? 0) + 1, lastFailedAtMs: nowMs, code: failure.code };
  return { ...state, failedVersions: { ...state.failedVersions, [version]: entry } };
}

export interface StateStoreOptions {
  stateDir: string;
  clock: Clock;
  logger?: Logger;
}

/** The state file. Reads and writes go through one queue, so update() is a safe read-modify-write. */
export class StateStore {
  readonly path: string;
  readonly #stateDir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: StateStoreOptions) {
    this.#stateDir = options.stateDir;
    this.path = join(options.stateDir, STATE_FILE_NAME);
    this.#clock = options.clock;
    this.#logger = options.logger ?? silentLogger();
  }

  /** The state; a missing file is fresh state; an unreadable or invalid file throws ERR_STATE. */
  read(): Promise<PersistedState> {
    return this.#enqueue(() => this.#read());
  }

  /**
   * Like read(), but recovers from an invalid file: it is renamed to state.json.corrupt-<ms>, a
   * warning is logged, and fresh state is returned (and saved). A file that cannot be read still throws.
   */
  load(): Promise<{ state: PersistedState; movedAsideTo?: string }> {
    return this.#enqueue(async () => {
      try {
        return { state: await this.#read() };
      } catch (e) {
        if (!(e instanceof UpdateEngineError) || e.details?.invalid !== true) throw e;
        const movedAsideTo = `${this.path}.corrupt-${this.#clock.now()}`;
        await this.#wrap(`Cannot move the invalid state file "${this.path}" aside`, () => rename(this.path, movedAsideTo));
        this.#logger.warn({ path: this.path, movedAsideTo, reason: e.message }, 'persisted state was invalid; moved aside, starting fresh');
        const state = freshState();
        await this.#write(state);
        return { state, movedAsideTo };
      }
    });
  }

  /** Validates and writes the whole state atomically. */
  save(state: PersistedState): Promise<void> {
    return this.#enqueue(() => this.#write(state));
  }

  /** Reads, applies `change`, writes; serialized with every other read and write of this store. */
  update(change: (state: PersistedState) => PersistedState): Promise<PersistedState> {
    return this.#enqueue(async () => {
      const next = change(await this.#read());
      await this.#write(next);
      return next;
    });
  }

  async #read(): Promise<PersistedState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return freshState();
      throw new UpdateEngineError('ERR_STATE', `Cannot read the state file "${this.path}": ${(e as Error).message}`, { cause: e });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw invalid(this.path, `not JSON (${(e as Error).message})`, e);
    }
    const result = stateSchema.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw invalid(this.path, `${issue?.path.join('.') || 'the file'}: ${issue?.message ?? 'invalid'}`, result.error);
    }
    return result.data;
  }

  async #write(state: PersistedState): Promise<void> {
    const checked = stateSchema.safeParse(state);
    if (!checked.success) {
      throw new UpdateEngineError('ERR_INTERNAL', `Refusing to save invalid state: ${checked.error.issues[0]?.message ?? 'invalid'}`, { cause: checked.error });
    }
    await this.#wrap(`Cannot write the state file "${this.path}"`, async () => {
      await mkdir(this.#stateDir, { recursive: true, mode: 0o755 });
      await writeFileAtomic(this.path, `${JSON.stringify(checked.data, null, 2)}\n`, 0o600);
    });
  }

  async #wrap<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw new UpdateEngineError('ERR_STATE', `${what}: ${(e as Error).message}`, { cause: e });
    }
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function invalid(path: string, reason: string, cause: unknown): UpdateEngineError {
  return new UpdateEngineError('ERR_STATE', `The state file "${path}" is invalid: ${reason}`, { cause, details: { path, invalid: true } });
}

const markerSchema = z.object({ version: z.string(), partition: z.number().int().min(1), flippedAtMs: timeMs });
export type NeedRebootMarker = z.infer<typeof markerSchema>;

/** The need-reboot marker in RUN_DIR (tmpfs): a daemon restart keeps it, a reboot clears it. */
export class NeedRebootMarkerFile {
  readonly path: string;
  readonly #runDir: string;

  constructor(runDir: string) {
    this.#runDir = runDir;
    this.path = join(runDir, NEED_REBOOT_FILE_NAME);
  }

  /** The marker, or undefined when there is none. An unreadable marker throws ERR_STATE. */
  async read(): Promise<NeedRebootMarker | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UpdateEngineError('ERR_STATE', `Cannot read the need-reboot marker "${this.path}": ${(e as Error).message}`, { cause: e });
    }
    try {
      return markerSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new UpdateEngineError('ERR_STATE', `The need-reboot marker "${this.path}" is invalid; remove it if no update is pending`, { cause: e });
    }
  }

  async write(marker: NeedRebootMarker): Promise<void> {
    try {
      await mkdir(this.#runDir, { recursive: true, mode: 0o755 });
      await writeFileAtomic(this.path, `${JSON.stringify(markerSchema.parse(marker))}\n`);
    } catch (e) {
      throw new UpdateEngineError('ERR_STATE', `Cannot write the need-reboot marker "${this.path}": ${(e as Error).message}`, { cause: e });
    }
  }

  async clear(): Promise<void> {
    try {
      await rm(this.path, { force: true });
    } catch (e) {
      throw new UpdateEngineError('ERR_STATE', `Cannot remove the need-reboot marker "${this.path}": ${(e as Error).message}`, { cause: e });
    }
  }
}
