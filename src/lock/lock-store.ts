// The LockStore port: the little the reboot lock needs from a key-value store with revisions
// (etcd v3): reads with mod revisions, an all-or-nothing guarded write, a prefix watch and a session
// lease for keys that must vanish when their owner dies. EtcdLockStore is the real adapter.

/** One stored key. Revisions are decimal strings: etcd's int64 values can exceed 2^53. */
export interface StoredValue {
  key: string;
  value: string;
  modRevision: string;
  createRevision: string;
  /** Attached to a lease (it disappears when the lease expires). */
  leased: boolean;
}

/** A consistent read of every key under a prefix, with the store revision it was read at. */
export interface PrefixRead {
  revision: string;
  values: StoredValue[];
}

/** A condition of a guarded write: the key is unchanged since it was read, or it does not exist. */
export type Guard = { key: string; modRevision: string } | { key: string; absent: true };

/** A write of a guarded commit. `leased` puts the key under the store's session lease. */
export type WriteOp = { op: 'put'; key: string; value: string; leased?: boolean } | { op: 'delete'; key: string };

export interface WatchHandle {
  close(): Promise<void>;
}

export interface LockStore {
  /** Where the store is, for messages ("http://10.0.0.1:2379,http://10.0.0.2:2379"). */
  readonly description: string;
  get(key: string): Promise<StoredValue | undefined>;
  getPrefix(prefix: string): Promise<PrefixRead>;
  /** Applies every op if and only if every guard holds, atomically; false when a guard failed. */
  commit(guards: readonly Guard[], ops: readonly WriteOp[]): Promise<boolean>;
  /**
   * Calls onChange (with no details: re-read) after every change under `prefix` made after
   * `afterRevision`, and after the watch reconnects. Survives endpoint failures on its own.
   */
  watch(prefix: string, afterRevision: string, onChange: () => void): Promise<WatchHandle>;
  /** The session lease id: granted on first use, kept alive until close(); a new one after a loss. */
  sessionLease(): Promise<string>;
  /** Registers a callback for the loss of the session lease (its leased keys are gone). */
  onSessionLost(callback: () => void): void;
  /** Resolves when the store answers a read within timeoutMs; rejects with ERR_LOCK_STORE otherwise. */
  ping(timeoutMs: number): Promise<void>;
  /** Revokes the session lease (its keys vanish at once) and closes connections. */
  close(): Promise<void>;
}

/** Compares two decimal revision strings. */
export function compareRevisions(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
