// Read-modify-write of one group's semaphore through a LockStore: read the prefix once, plan the
// change purely, commit it guarded by the semaphore's mod revision (or its absence), and on conflict
// retry after a random delay whose ceiling doubles (full jitter), so that racing nodes spread out.

import { UpdateEngineError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import { lockKeys, type LockKeys } from './lock-keys.ts';
import { formatHolderRecord, parseLockSnapshot, type LockSnapshot } from './lock-snapshot.ts';
import type { Guard, LockStore, WriteOp } from './lock-store.ts';
import { formatSemaphore, lockSemaphore, setSemaphoreMax, unlockSemaphore, type Semaphore } from './semaphore.ts';
import { backoffDelays } from '../platform/backoff.ts';

export interface SemaphoreClientOptions {
  store: LockStore;
  /** Lock group; "" = locksmith's default semaphore. */
  group: string;
  clock: Clock;
  /** Uniform in [0, 1); injectable for tests. */
  random?: (() => number) | undefined;
  /** Attempts of one read-modify-write before ERR_LOCK_CONFLICT; default 30. */
  maxAttempts?: number;
  /** Ceiling of the first retry's random delay; doubled per conflict up to conflictBackoffCeilingMs. Default 10 ms. */
  conflictBaseDelayMs?: number;
  /** Default 1000 ms. */
  conflictBackoffCeilingMs?: number;
}

/** What a planned change writes: a new semaphore value, extra guards, extra writes; and what update() returns. */
export interface PlannedChange<T> {
  semaphore?: Semaphore;
  guards?: Guard[];
  ops?: WriteOp[];
  result: T;
}

export interface LockOptions {
  /** Keep a lease-backed liveness key while holding (the daemon); default false (a manual lock). */
  liveness?: boolean;
  /** Remove our waiter key in the same commit (one watch event fewer for every other waiter). */
  leaveQueue?: boolean;
}

export class SemaphoreClient {
  readonly keys: LockKeys;
  readonly store: LockStore;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly ceilingMs: number;
  /** Conflicts seen since construction (for tests and the benchmark). */
  conflicts = 0;

  constructor(options: SemaphoreClientOptions) {
    this.store = options.store;
    this.keys = lockKeys(options.group);
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.maxAttempts = options.maxAttempts ?? 30;
    this.baseDelayMs = options.conflictBaseDelayMs ?? 10;
    this.ceilingMs = options.conflictBackoffCeilingMs ?? 1000;
  }

  /** One consistent read of the group's semaphore, holders, liveness and waiters. */
  async snapshot(): Promise<LockSnapshot> {
    return parseLockSnapshot(await this.store.getPrefix(this.keys.prefix), this.keys);
  }

  /**
   * Reads, plans and commits until the commit's guards hold. `plan` may throw (a lock error ends the
   * update at once); a plan that writes nothing returns its result without a commit. A snapshot just
   * read may be passed as `fresh` to save the first read (a stale one only costs a conflict).
   */
  async update<T>(what: string, plan: (snapshot: LockSnapshot) => PlannedChange<T>, signal?: AbortSignal, fresh?: LockSnapshot): Promise<T> {
    let known = fresh;
    const nextDelayMs = backoffDelays({ initialMs: this.baseDelayMs, maxMs: this.ceilingMs, jitter: 'full', random: this.random });
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const snapshot = known ?? (await this.snapshot());
      known = undefined;
      const change = plan(snapshot);
      const ops: WriteOp[] = [];
      if (change.semaphore) ops.push({ op: 'put', key: this.keys.semaphore, value: formatSemaphore(change.semaphore) });
      ops.push(...(change.ops ?? []));
      if (ops.length === 0) return change.result;
      const own: Guard =
        snapshot.modRevision === null ? { key: this.keys.semaphore, absent: true } : { key: this.keys.semaphore, modRevision: snapshot.modRevision };
      if (await this.store.commit([own, ...(change.guards ?? [])], ops)) return change.result;
      this.conflicts += 1;
      if (attempt >= this.maxAttempts) {
        throw new UpdateEngineError('ERR_LOCK_CONFLICT', `Cannot ${what}: the semaphore "${this.keys.semaphore}" kept changing (${attempt} attempts)`);
      }
      await this.clock.sleep(nextDelayMs(), signal);
    }
  }

  /** Takes a slot for `id` (locksmith's lock) and writes its holder record (and liveness key). */
  lock(id: string, options: LockOptions = {}, signal?: AbortSignal, fresh?: LockSnapshot): Promise<Semaphore> {
    const liveness = options.liveness ?? false;
    return this.update(
      `lock the reboot semaphore for "${id}"`,
      (snap) => {
        const next = lockSemaphore(snap.semaphore, id);
        const ops: WriteOp[] = [{ op: 'put', key: this.keys.holderRecord(id), value: formatHolderRecord({ lockedAtMs: this.clock.now(), liveness }) }];
        if (liveness) ops.push({ op: 'put', key: this.keys.liveness(id), value: '', leased: true });
        if (options.leaveQueue === true) ops.push({ op: 'delete', key: this.keys.waiter(id) });
        return { semaphore: next, ops, result: next };
      },
      signal,
      fresh,
    );
  }

  /** Gives back `id`'s slot (locksmith's unlock) and removes its record and liveness key. */
  unlock(id: string, signal?: AbortSignal): Promise<Semaphore> {
    return this.update(
      `unlock the reboot semaphore for "${id}"`,
      (snap) => {
        const next = unlockSemaphore(snap.semaphore, id);
        return { semaphore: next, ops: this.forgetOps(id), result: next };
      },
      signal,
    );
  }

  /** Sets the number of slots (locksmith's set-max); returns the old max and the new value. */
  setMax(max: number, signal?: AbortSignal): Promise<{ oldMax: number; semaphore: Semaphore }> {
    return this.update(
      `set the reboot semaphore's max to ${max}`,
      (snap) => {
        const next = setSemaphoreMax(snap.semaphore, max);
        return { semaphore: next, result: { oldMax: snap.semaphore.max, semaphore: next } };
      },
      signal,
    );
  }

  /** Deletes of a holder's record and liveness key (with an unlock or an eviction). */
  forgetOps(id: string): WriteOp[] {
    return [
      { op: 'delete', key: this.keys.holderRecord(id) },
      { op: 'delete', key: this.keys.liveness(id) },
    ];
  }
}
