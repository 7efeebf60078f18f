// Where the reboot lock lives in etcd: locksmith's semaphore key (default group or a named group,
// escaped as Go's url.QueryEscape does) and this project's keys beside it (holder records, lease-backed
// liveness and waiter keys, the circuit breaker's failures and halts), all under the semaphore key as a
// prefix so that one watch sees them all.

const KEY_PREFIX = 'coreos.com/updateengine/rebootlock';

/** Go's url.QueryEscape: unreserved bytes kept, space as "+", every other byte as %XX (upper case). */
export function goQueryEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The semaphore key of a group ("" = locksmith's default semaphore). */
export function semaphoreKey(group: string): string {
  return group === '' ? `${KEY_PREFIX}/semaphore` : `${KEY_PREFIX}/groups/${goQueryEscape(group)}/semaphore`;
}

/** All keys of one group's lock, semaphore first. */
export interface LockKeys {
  group: string;
  /** locksmith's key: the semaphore JSON. */
  semaphore: string;
  /** Prefix that covers the semaphore and every key below (for one range read or one watch). */
  prefix: string;
  /** Persistent record of a holder: when it took the lock and whether it keeps a liveness key. */
  holderRecord(id: string): string;
  holderRecordPrefix: string;
  /** Lease-backed key that exists while the holder's daemon is alive. */
  liveness(id: string): string;
  livenessPrefix: string;
  /** Lease-backed key of a node waiting for a slot (its create revision gives the queue order). */
  waiter(id: string): string;
  waiterPrefix: string;
  /** The fleet circuit breaker: one failure record per machine that rolled back from a version. */
  failure(version: string, id: string): string;
  /** Prefix of one version's failure records. */
  failureVersionPrefix(version: string): string;
  failurePrefix: string;
  /** An operator's halt of a version (`locksmithctl halt V`). */
  halt(version: string): string;
  haltPrefix: string;
}

export function lockKeys(group: string): LockKeys {
  const semaphore = semaphoreKey(group);
  const sub = (branch: string) => `${semaphore}/${branch}/`;
  return {
    group,
    semaphore,
    prefix: semaphore,
    holderRecord: (id) => `${sub('holders')}${goQueryEscape(id)}`,
    holderRecordPrefix: sub('holders'),
    liveness: (id) => `${sub('liveness')}${goQueryEscape(id)}`,
    livenessPrefix: sub('liveness'),
    waiter: (id) => `${sub('waiters')}${goQueryEscape(id)}`,
    waiterPrefix: sub('waiters'),
    failure: (version, id) => `${sub('failures')}${goQueryEscape(version)}/${goQueryEscape(id)}`,
    failureVersionPrefix: (version) => `${sub('failures')}${goQueryEscape(version)}/`,
    failurePrefix: sub('failures'),
    halt: (version) => `${sub('halts')}${goQueryEscape(version)}`,
    haltPrefix: sub('halts'),
  };
}

/** The id in a holder-record, liveness or waiter key (the part after the branch prefix). */
export function idFromKey(key: string, branchPrefix: string): string | undefined {
  if (!key.startsWith(branchPrefix)) return undefined;
  return decodeURIComponent(key.slice(branchPrefix.length).replace(/\+/g, ' '));
}

/** The released locksmith's etcd v2 path of the same semaphore (for `locksmithctl status`'s warning). */
export function v2SemaphorePath(group: string): string {
  // The key's own %XX escapes must survive the URL: each path segment is percent-encoded once more.
  return `/v2/keys/${semaphoreKey(group).split('/').map(encodeURIComponent).join('/')}`;
}
