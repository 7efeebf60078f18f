// Detects the released locksmith's etcd v2 semaphore (GET /v2/keys/<key> over got). etcd 3.4 serves v2
// only with --enable-v2 and 3.6 removed it; its keyspace is separate from v3, so a fleet running both
// locksmith and this project has two semaphores and may reboot up to twice `max` machines at once.

import { got } from 'got';
import type { EtcdConnectionOptions } from './etcd-lock-store.ts';
import { v2SemaphorePath } from './lock-keys.ts';
import { parseSemaphore, type Semaphore } from './semaphore.ts';

export type V2Finding =
  /** No endpoint answered the v2 API (v2 disabled, or nothing reachable). */
  | { kind: 'no-v2' }
  /** The v2 API answered and has no semaphore for this group. */
  | { kind: 'absent'; endpoint: string }
  /** The v2 API has a semaphore: `semaphore` when its value parses. */
  | { kind: 'present'; endpoint: string; value: string; semaphore: Semaphore | undefined };

interface V2Body {
  errorCode?: number;
  node?: { value?: string };
}

function parseBody(text: string): V2Body | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as V2Body) : undefined;
  } catch {
    return undefined;
  }
}

/** Asks each endpoint in turn for the group's v2 semaphore; the first endpoint whose v2 API answers decides. */
export async function findV2Semaphore(options: EtcdConnectionOptions, group: string, timeoutMs = 2000): Promise<V2Finding> {
  const path = v2SemaphorePath(group);
  for (const endpoint of options.endpoints) {
    let status: number;
    let body: string;
    try {
      const res = await got(new URL(path, endpoint), {
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: timeoutMs },
        followRedirect: false,
        https: { certificateAuthority: options.caPem, certificate: options.certPem, key: options.keyPem },
        ...(options.username !== undefined ? { username: options.username, password: options.password ?? '' } : {}),
      });
      status = res.statusCode;
      body = res.body;
    } catch {
      continue; // unreachable: ask the next endpoint
    }
    const parsed = parseBody(body);
    if (status === 200 && typeof parsed?.node?.value === 'string') {
      const value = parsed.node.value;
      let semaphore: Semaphore | undefined;
      try {
        semaphore = parseSemaphore(value);
      } catch {
        semaphore = undefined;
      }
      return { kind: 'present', endpoint, value, semaphore };
    }
    // etcd's v2 "Key not found" is errorCode 100; with v2 disabled the path is a plain-text 404.
    if (status === 404 && parsed?.errorCode === 100) return { kind: 'absent', endpoint };
  }
  return { kind: 'no-v2' };
}

/** The warning `locksmithctl status` prints for a v2 semaphore (two keyspaces, two semaphores). */
export function v2Warning(finding: V2Finding, group: string): string | undefined {
  if (finding.kind !== 'present') return undefined;
  const held = finding.semaphore ? `, held by ${finding.semaphore.holders.length === 0 ? 'nobody' : finding.semaphore.holders.join(', ')}` : '';
  return (
    `Warning: an etcd v2 reboot semaphore exists (${finding.endpoint}${v2SemaphorePath(group)}${held}). ` +
    'locksmith (v2 API) and update-engine (v3 API) keep separate semaphores: a fleet running both may reboot up to twice "max" machines at once.'
  );
}
