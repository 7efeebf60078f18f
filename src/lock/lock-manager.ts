// The reboot lock's life for one machine: wait for a slot by watching the group's keys (a queue of
// lease-backed waiter keys, so only as many waiters as there are free slots race; a re-read timer
// with a backoff ceiling under the watch), take it with a liveness key, keep that key alive, evict
// holders dead for LOCK_STALE_AFTER (loudly), and give the slot back.

import { isUpdateEngineError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { formatDuration } from '../config/values.ts';
import { failureOp, type FailureRecord } from './circuit-breaker.ts';
import { formatHolderRecord, type LockSnapshot } from './lock-snapshot.ts';
import type { SemaphoreClient } from './semaphore-client.ts';
import type { WriteOp } from './lock-store.ts';
import { StaleHolderTracker } from './stale-holders.ts';
import { unlockSemaphore } from './semaphore.ts';
import { Wakeup } from './wakeup.ts';

export interface LockManagerOptions {
  client: SemaphoreClient;
  /** This machine's holder id (/etc/machine-id). */
  id: string;
  clock: Clock;
  logger: Logger;
  /** Evict a holder whose liveness key has been gone this long; 0 = never (default). */
  staleAfterMs?: number;
  /** First re-read delay while waiting, doubled after each quiet period up to pollCeilingMs. Default 1 s. */
  pollInitialMs?: number;
  /** The backoff ceiling of the re-read timer (the watch normally wakes us first). Default 60 s. */
  pollCeilingMs?: number;
  /** A free slot left untaken this long is open to every waiter, not only the first in line. Default 5 s. */
  queueGraceMs?: number;
}

export class LockManager {
  readonly id: string;
  private readonly client: SemaphoreClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly staleAfterMs: number;
  private readonly pollInitialMs: number;
  private readonly pollCeilingMs: number;
  private readonly queueGraceMs: number;

  constructor(options: LockManagerOptions) {
    this.client = options.client;
    this.id = options.id;
    this.clock = options.clock;
    this.logger = options.logger;
    this.staleAfterMs = options.staleAfterMs ?? 0;
    this.pollInitialMs = options.pollInitialMs ?? 1000;
    this.pollCeilingMs = options.pollCeilingMs ?? 60_000;
    this.queueGraceMs = options.queueGraceMs ?? 5000;
    this.client.store.onSessionLost(() => {
      this.logger.warn({ group: this.client.keys.group }, 'The etcd session lease was lost; re-creating the liveness key if we hold the reboot lock');
      this.refreshLiveness().catch((e: unknown) => this.logger.warn({ err: e }, 'Cannot re-create the liveness key'));
    });
  }

  /** Whether this machine holds a slot now. */
  async isHeld(): Promise<boolean> {
    return (await this.client.snapshot()).semaphore.holders.includes(this.id);
  }

  /** When holding a slot, (re)creates the lease-backed liveness key (after a daemon restart or a lost lease). */
  async refreshLiveness(): Promise<boolean> {
    return this.client.update('refresh the liveness key', (snap) => {
      const mine = snap.holders.find((h) => h.id === this.id);
      if (!mine) return { result: false };
      const ops: WriteOp[] = [{ op: 'put', key: this.client.keys.liveness(this.id), value: '', leased: true }];
      if (mine.record === undefined || !mine.record.liveness) {
        ops.push({
          op: 'put',
          key: this.client.keys.holderRecord(this.id),
          value: formatHolderRecord({ lockedAtMs: mine.record?.lockedAtMs ?? this.clock.now(), liveness: true }),
        });
      }
      return { ops, result: true };
    });
  }

  /** Gives back our slot if we hold one; true when one was released, false when we held none. */
  async release(): Promise<boolean> {
    try {
      await this.client.unlock(this.id);
      this.logger.info({ group: this.client.keys.group, holder: this.id }, 'Released the reboot lock');
      return true;
    } catch (e) {
      if (isUpdateEngineError(e) && e.code === 'ERR_LOCK_NOT_HOLDER') return false;
      throw e;
    }
  }

  /**
   * Waits for a slot and takes it (with a liveness key); resolves at once when we already hold one.
   * Store outages while waiting are logged and retried; the abort signal ends the wait. `veto` is asked
   * about every snapshot before anything else (the fleet circuit breaker): an error it returns ends the
   * wait, and a slot we hold is given back first.
   */
  async acquire(signal?: AbortSignal, veto?: (snapshot: LockSnapshot) => Error | undefined): Promise<void> {
    const keys = this.client.keys;
    const wakeup = new Wakeup(this.clock);
    const stale = new StaleHolderTracker(this.staleAfterMs);
    let watch: { close(): Promise<void> } | undefined;
    let pollMs = this.pollInitialMs;
    let freeSinceMs: number | undefined;
    let announced = false;
    let queued = false;
    try {
      for (;;) {
        signal?.throwIfAborted();
        let snap: LockSnapshot;
        try {
          snap = await this.client.snapshot();
          if (!watch) watch = await this.client.store.watch(keys.prefix, snap.revision, () => wakeup.notify());
        } catch (e) {
          if (!isUpdateEngineError(e) || e.code !== 'ERR_LOCK_STORE') throw e;
          this.logger.warn({ err: e.message, retryInMs: pollMs }, 'Cannot read the reboot lock; retrying');
          await wakeup.wait(pollMs, signal);
          pollMs = Math.min(this.pollCeilingMs, pollMs * 2);
          continue;
        }
        const vetoed = veto?.(snap);
        if (vetoed) {
          if (snap.semaphore.holders.includes(this.id)) await this.release();
          throw vetoed;
        }
        if (snap.semaphore.holders.includes(this.id)) {
          await this.refreshLiveness();
          return;
        }
        queued = true;
        if (!snap.waiters.includes(this.id))
          await this.client.store.commit([{ key: keys.waiter(this.id), absent: true }], [{ op: 'put', key: keys.waiter(this.id), value: '', leased: true }]);
        const now = this.clock.monotonicMs();
        const free = snap.semaphore.semaphore;
        let deadlineMs: number | undefined;
        if (free > 0) {
          const rank = snap.waiters.indexOf(this.id);
          freeSinceMs ??= now;
          if ((rank >= 0 && rank < free) || now - freeSinceMs >= this.queueGraceMs) {
            const outcome = await this.tryLock(snap, signal);
            if (outcome === 'took') queued = false; // the lock commit removed our waiter key
            if (outcome !== 'lost') return;
            continue;
          }
          deadlineMs = freeSinceMs + this.queueGraceMs;
        } else {
          freeSinceMs = undefined;
          if (!announced) {
            this.logger.info({ group: keys.group, holders: snap.semaphore.holders, max: snap.semaphore.max }, 'Waiting for the reboot lock');
            announced = true;
          }
          const verdict = stale.observe(snap.holders, now);
          if (verdict.evict.length > 0) {
            for (const { id, goneForMs } of verdict.evict) await this.evict(id, goneForMs);
            continue;
          }
          deadlineMs = verdict.nextDeadlineMs;
        }
        const timeoutMs = deadlineMs === undefined ? pollMs : Math.max(0, Math.min(pollMs, deadlineMs - now));
        const reason = await wakeup.wait(timeoutMs, signal);
        pollMs = reason === 'change' ? this.pollInitialMs : Math.min(this.pollCeilingMs, pollMs * 2);
      }
    } finally {
      await watch?.close();
      if (queued) await this.client.store.commit([], [{ op: 'delete', key: keys.waiter(this.id) }]).catch(() => undefined);
    }
  }

  /**
   * One attempt to take a slot: 'took' it (our waiter key went with the same commit), found it 'held'
   * already (a commit whose answer was lost), or 'lost' the race to another node.
   */
  private async tryLock(snap: LockSnapshot, signal?: AbortSignal): Promise<'took' | 'held' | 'lost'> {
    try {
      await this.client.lock(this.id, { liveness: true, leaveQueue: true }, signal, snap);
      this.logger.info({ group: this.client.keys.group, holder: this.id }, 'Took the reboot lock');
      return 'took';
    } catch (e) {
      if (!isUpdateEngineError(e)) throw e;
      if (e.code === 'ERR_LOCK_DUPLICATE_HOLDER') return 'held';
      if (e.code === 'ERR_LOCK_UNAVAILABLE' || e.code === 'ERR_LOCK_CONFLICT') return 'lost';
      throw e;
    }
  }

  /**
   * Gives back our slot (if we hold one) and writes `failure` in the same etcd transaction (the fleet
   * circuit breaker's record). True when a slot was released.
   */
  async releaseWithFailure(failure: FailureRecord): Promise<boolean> {
    const released = await this.client.update(`record the failure of version ${failure.version} and release the reboot lock`, (snap) => {
      const op = failureOp(this.client.keys, failure);
      if (!snap.semaphore.holders.includes(this.id)) return { ops: [op], result: false };
      return { semaphore: unlockSemaphore(snap.semaphore, this.id), ops: [...this.client.forgetOps(this.id), op], result: true };
    });
    this.logger.warn(
      { group: this.client.keys.group, version: failure.version, code: failure.code, released },
      `Recorded the failure of version ${failure.version} in the fleet circuit breaker`,
    );
    return released;
  }

  /** Removes a dead holder, guarded so that a holder whose liveness key came back is left alone. */
  private async evict(id: string, goneForMs: number): Promise<void> {
    const keys = this.client.keys;
    const evicted = await this.client.update(`evict the dead holder "${id}"`, (snap) => {
      const h = snap.holders.find((x) => x.id === id);
      if (!h || h.alive) return { result: false };
      return {
        semaphore: unlockSemaphore(snap.semaphore, id),
        guards: [{ key: keys.liveness(id), absent: true }],
        ops: this.client.forgetOps(id),
        result: true,
      };
    });
    if (evicted) {
      this.logger.error(
        { group: keys.group, evicted: id, goneForMs, staleAfterMs: this.staleAfterMs },
        `EVICTED reboot lock holder "${id}": its liveness key has been gone for ${formatDuration(goneForMs)} (LOCK_STALE_AFTER=${formatDuration(this.staleAfterMs)})`,
      );
    }
  }
}
