// One consistent view of a group's lock, built (purely) from a single prefix read: the semaphore
// with its mod revision, each holder's record (when it locked, whether it keeps a liveness key) and
// liveness, and the waiters in queue order.

import { UpdateEngineError } from '../errors.ts';
import { parseBreaker, type BreakerView } from './circuit-breaker.ts';
import { idFromKey, type LockKeys } from './lock-keys.ts';
import { compareRevisions, type PrefixRead } from './lock-store.ts';
import { compareBytes, initialSemaphore, parseSemaphore, type Semaphore } from './semaphore.ts';

/** What this project stores beside the semaphore for each holder (locksmith ignores it). */
export interface HolderRecord {
  /** When the lock was taken (ms since the epoch). */
  lockedAtMs: number;
  /** Whether the holder keeps a lease-backed liveness key (the daemon does; a manual `locksmithctl lock` does not). */
  liveness: boolean;
}

export interface HolderView {
  id: string;
  /** Undefined for holders that left no record (locksmith, or a record lost by hand). */
  record: HolderRecord | undefined;
  /** Its liveness key exists now. */
  alive: boolean;
}

export interface LockSnapshot {
  semaphore: Semaphore;
  /** Mod revision of the semaphore key; null when the key does not exist yet (initial value). */
  modRevision: string | null;
  /** Store revision of the read (a watch starts after it). */
  revision: string;
  holders: HolderView[];
  /** Ids of the nodes waiting for a slot, first come first. */
  waiters: string[];
  /** The fleet circuit breaker's records (failures, halts), from the same read. */
  breaker: BreakerView;
}

export function formatHolderRecord(record: HolderRecord): string {
  return JSON.stringify({ lockedAt: new Date(record.lockedAtMs).toISOString(), liveness: record.liveness });
}

/** Parses a holder record; undefined for anything unreadable (a record is advisory, never fatal). */
export function parseHolderRecord(text: string): HolderRecord | undefined {
  try {
    const v = JSON.parse(text) as { lockedAt?: unknown; liveness?: unknown };
    const ms = typeof v.lockedAt === 'string' ? Date.parse(v.lockedAt) : NaN;
    if (Number.isNaN(ms)) return undefined;
    return { lockedAtMs: ms, liveness: v.liveness === true };
  } catch {
    return undefined;
  }
}

/** Builds the snapshot; throws ERR_LOCK_VALUE when the semaphore itself is unreadable. */
export function parseLockSnapshot(read: PrefixRead, keys: LockKeys): LockSnapshot {
  let semaphore: Semaphore = initialSemaphore();
  let modRevision: string | null = null;
  const records = new Map<string, HolderRecord | undefined>();
  const alive = new Set<string>();
  const waiters: { id: string; createRevision: string }[] = [];
  for (const kv of read.values) {
    if (kv.key === keys.semaphore) {
      try {
        semaphore = parseSemaphore(kv.value);
      } catch (e) {
        if (e instanceof UpdateEngineError) throw new UpdateEngineError(e.code, `${e.message} (key "${keys.semaphore}")`, { cause: e });
        throw e;
      }
      modRevision = kv.modRevision;
      continue;
    }
    const recordId = idFromKey(kv.key, keys.holderRecordPrefix);
    if (recordId !== undefined) {
      records.set(recordId, parseHolderRecord(kv.value));
      continue;
    }
    const liveId = idFromKey(kv.key, keys.livenessPrefix);
    if (liveId !== undefined) {
      alive.add(liveId);
      continue;
    }
    const waiterId = idFromKey(kv.key, keys.waiterPrefix);
    if (waiterId !== undefined) waiters.push({ id: waiterId, createRevision: kv.createRevision });
  }
  waiters.sort((a, b) => compareRevisions(a.createRevision, b.createRevision) || compareBytes(a.id, b.id));
  return {
    semaphore,
    modRevision,
    revision: read.revision,
    holders: semaphore.holders.map((id) => ({ id, record: records.get(id), alive: alive.has(id) })),
    waiters: waiters.map((w) => w.id),
    breaker: parseBreaker(read, keys),
  };
}
