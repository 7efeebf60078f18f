// locksmithctl's fleet circuit breaker commands: `halt V` writes an operator's halt beside the group's
// semaphore, `resume V` deletes V's halt and failure records in one transaction; status lines for both.

import { hostname, userInfo } from 'node:os';
import { formatHaltRecord, resumeOps } from '../lock/circuit-breaker.ts';
import { formatBreakerStatus } from '../lock/breaker-format.ts';
import type { LockSnapshot } from '../lock/lock-snapshot.ts';
import type { SemaphoreClient } from '../lock/semaphore-client.ts';

const groupName = (client: SemaphoreClient) => (client.keys.group === '' ? 'the default group' : `group "${client.keys.group}"`);

/** Who halts, as the record says: "locksmithctl (user@host)". */
export function operatorName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): keep "unknown".
  }
  return `locksmithctl (${user}@${hostname()})`;
}

/** The breaker's part of `locksmithctl status` (after locksmith's lines and the holder table). */
export function breakerLines(snapshot: LockSnapshot, threshold: number): string[] {
  return formatBreakerStatus(snapshot.breaker, threshold);
}

/** Halts `version` in the client's group (idempotent: a second halt rewrites the record). */
export async function halt(client: SemaphoreClient, version: string, by: string, nowMs: number): Promise<string> {
  await client.store.commit([], [{ op: 'put', key: client.keys.halt(version), value: formatHaltRecord({ version, haltedAtMs: nowMs, by }) }]);
  return `Halted version ${version} in ${groupName(client)}: no machine of the group reboots into it until "locksmithctl resume ${version}"`;
}

/** Clears `version`'s halt and failure records in one transaction (guarded: retried when they change meanwhile). */
export async function resume(client: SemaphoreClient, version: string): Promise<string> {
  const cleared = await client.update(`resume version ${version}`, (snap) => {
    const entry = snap.breaker.get(version);
    if (!entry) return { result: undefined };
    return { ops: resumeOps(client.keys, entry), result: { failures: entry.failures.length, halted: entry.halt !== undefined } };
  });
  if (!cleared) return `Version ${version} has no failures and no halt in ${groupName(client)}; nothing to resume`;
  const parts = [`${cleared.failures} failure record(s)`, ...(cleared.halted ? ['the halt'] : [])];
  return `Resumed version ${version} in ${groupName(client)}: removed ${parts.join(' and ')}; machines take it at their next check`;
}
