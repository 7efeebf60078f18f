// The fleet circuit breaker, pure: the failure records (one per machine that rolled back from a
// version) and operator halts stored beside a group's semaphore, read from the same prefix read as the
// lock, and the rule: a version with FLEET_FAILURE_THRESHOLD failures, or halted by hand, is halted.

import { ERROR_CODES, UpdateEngineError, type ErrorCode } from '../errors.ts';
import type { LockKeys } from './lock-keys.ts';
import type { PrefixRead, WriteOp } from './lock-store.ts';

/** One machine's failure with a version: what the daemon writes when it rolls back from it. */
export interface FailureRecord {
  machineId: string;
  version: string;
  /** ERR_HEALTH_CHECK (the health gate never passed) or ERR_ROLLBACK (the bootloader fell back). */
  code: ErrorCode;
  failedAtMs: number;
}

/** An operator's halt (`locksmithctl halt V`). */
export interface HaltRecord {
  version: string;
  haltedAtMs: number;
  by: string;
}

/** What the breaker knows of one version. */
export interface VersionBreaker {
  version: string;
  failures: FailureRecord[];
  halt: HaltRecord | undefined;
}

/** Every version with failures or a halt, by version. */
export type BreakerView = Map<string, VersionBreaker>;

/** Why a version is halted (undefined: it is not). */
export interface FleetHalt {
  version: string;
  failures: FailureRecord[];
  /** Set when an operator halted it. */
  halt: HaltRecord | undefined;
  threshold: number;
}

const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));

export function formatFailureRecord(r: FailureRecord): string {
  return JSON.stringify({ machineId: r.machineId, version: r.version, code: r.code, failedAt: new Date(r.failedAtMs).toISOString() });
}

export function formatHaltRecord(r: HaltRecord): string {
  return JSON.stringify({ version: r.version, haltedAt: new Date(r.haltedAtMs).toISOString(), by: r.by });
}

/** A failure record from its key and value; an unreadable value still counts (with what the key says). */
function parseFailure(version: string, id: string, text: string): FailureRecord {
  let v: { code?: unknown; failedAt?: unknown } = {};
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    // A record is counted even when its value is damaged: a failure must not vanish by a typo.
  }
  const code = (ERROR_CODES as readonly string[]).includes(String(v.code)) ? (v.code as ErrorCode) : 'ERR_ROLLBACK';
  const ms = typeof v.failedAt === 'string' ? Date.parse(v.failedAt) : NaN;
  return { machineId: id, version, code, failedAtMs: Number.isNaN(ms) ? 0 : ms };
}

function parseHalt(version: string, text: string): HaltRecord {
  let v: { haltedAt?: unknown; by?: unknown } = {};
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    // As for failures: a damaged halt record still halts.
  }
  const ms = typeof v.haltedAt === 'string' ? Date.parse(v.haltedAt) : NaN;
  return { version, haltedAtMs: Number.isNaN(ms) ? 0 : ms, by: typeof v.by === 'string' ? v.by : 'unknown' };
}

/** The breaker's records in a prefix read of the group (other keys are ignored). */
export function parseBreaker(read: PrefixRead, keys: LockKeys): BreakerView {
  const view: BreakerView = new Map();
  const entry = (version: string) => {
    let e = view.get(version);
    if (!e) view.set(version, (e = { version, failures: [], halt: undefined }));
    return e;
  };
  for (const kv of read.values) {
    if (kv.key.startsWith(keys.failurePrefix)) {
      const [v, id, ...rest] = kv.key.slice(keys.failurePrefix.length).split('/');
      if (v === undefined || id === undefined || rest.length > 0 || v === '' || id === '') continue;
      const version = decode(v);
      entry(version).failures.push(parseFailure(version, decode(id), kv.value));
    } else if (kv.key.startsWith(keys.haltPrefix)) {
      const version = decode(kv.key.slice(keys.haltPrefix.length));
      if (version !== '' && !version.includes('/')) entry(version).halt = parseHalt(version, kv.value);
    }
  }
  for (const e of view.values()) e.failures.sort((a, b) => a.failedAtMs - b.failedAtMs || (a.machineId < b.machineId ? -1 : 1));
  return view;
}

/** Whether `version` is halted: an operator's halt, or at least `threshold` machines failed with it. */
export function haltOf(view: BreakerView, version: string, threshold: number): FleetHalt | undefined {
  const e = view.get(version);
  if (!e) return undefined;
  if (e.halt === undefined && e.failures.length < threshold) return undefined;
  return { version, failures: e.failures, halt: e.halt, threshold };
}

/** One line for logs and errors: "version 2.0.0 is halted in group "web": 1 failure (threshold 1): abc... ERR_HEALTH_CHECK". */
export function describeHalt(h: FleetHalt, group: string): string {
  const where = group === '' ? 'the default group' : `group "${group}"`;
  const why = h.halt
    ? `halted by ${h.halt.by} at ${new Date(h.halt.haltedAtMs).toISOString()}`
    : `${h.failures.length} machine(s) failed with it (FLEET_FAILURE_THRESHOLD=${h.threshold}): ${h.failures.map((f) => `${f.machineId} ${f.code}`).join(', ')}`;
  return `Version ${h.version} is halted in ${where}: ${why}; clear it with "locksmithctl resume ${h.version}"`;
}

/** The ERR_FLEET_HALTED error for a halted version. */
export function haltedError(h: FleetHalt, group: string): UpdateEngineError {
  return new UpdateEngineError('ERR_FLEET_HALTED', describeHalt(h, group), { details: { version: h.version, failures: h.failures.length } });
}

/** The write of a failure record. */
export function failureOp(keys: LockKeys, r: FailureRecord): WriteOp {
  return { op: 'put', key: keys.failure(r.version, r.machineId), value: formatFailureRecord(r) };
}

/** The writes that clear a version: its halt and every failure record of it. */
export function resumeOps(keys: LockKeys, entry: VersionBreaker): WriteOp[] {
  return [
    ...(entry.halt ? [{ op: 'delete' as const, key: keys.halt(entry.version) }] : []),
    ...entry.failures.map((f) => ({ op: 'delete' as const, key: keys.failure(entry.version, f.machineId) })),
  ];
}
