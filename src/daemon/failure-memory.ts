// Which releases are not applied again. Only a payload whose signed manifest verified and that then
// failed after the flip (rolled back, health gate) counts, keyed by what was signed (version, image
// hash) and the payload file's hash; forged or broken answers never count. Pure functions over state.

import { compareVersions } from '../config/values.ts';
import type { ErrorCode } from '../errors.ts';
import type { PersistedState } from './state-store.ts';

export type FailedVersion = PersistedState['failedVersions'][string];

/** What was verified and flipped to: the record a later rollback is keyed by. */
export interface VerifiedRelease {
  version: string;
  /** The signed manifest's imageSha256 (hex). */
  imageSha256Hex?: string | undefined;
  /** The payload file's SHA-256 (base64), when it was checked against the offer. */
  payloadSha256Base64?: string | undefined;
}

/** Codes that may count against a release: failures seen only after its signature verified and it was flipped to. */
const COUNTING_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_ROLLBACK', 'ERR_HEALTH_CHECK']);

/** Remembers that a verified release failed after its flip. */
export function rememberFailure(state: PersistedState, release: VerifiedRelease, failure: { reason: string; code: ErrorCode }, nowMs: number): PersistedState {
  const previous = state.failedVersions[release.version];
  const entry: FailedVersion = {
    reason: failure.reason,
    code: failure.code,
    count: (previous?.count ?? 0) + 1,
    lastFailedAtMs: nowMs,
    imageSha256Hex: release.imageSha256Hex,
    payloadSha256Base64: release.payloadSha256Base64,
  };
  return { ...state, failedVersions: { ...state.failedVersions, [release.version]: entry } };
}

/** An entry counts when it came from a verified release (older files: only rollbacks) and is younger than the TTL. */
function live(entry: FailedVersion | undefined, nowMs: number, ttlMs: number): entry is FailedVersion {
  if (!entry || entry.code === undefined || !COUNTING_CODES.has(entry.code)) return false;
  return nowMs - entry.lastFailedAtMs < ttlMs;
}

/**
 * Before the download: the remembered failure that this offer is, if any. A match needs the same
 * version and the same payload hash (the offer names the very payload that failed); an entry from
 * before hashes were kept matches by version.
 */
export function failureForOffer(
  state: PersistedState,
  offer: { version: string; sha256Base64?: string },
  nowMs: number,
  ttlMs: number,
): FailedVersion | undefined {
  const entry = state.failedVersions[offer.version];
  if (!live(entry, nowMs, ttlMs)) return undefined;
  if (entry.payloadSha256Base64 === undefined && entry.imageSha256Hex === undefined) return entry;
  return entry.payloadSha256Base64 !== undefined && entry.payloadSha256Base64 === offer.sha256Base64 ? entry : undefined;
}

/** After the manifest verified, before any write: the remembered failure of this very signed image, if any. */
export function failureForManifest(
  state: PersistedState,
  manifest: { version: string; imageSha256: string },
  nowMs: number,
  ttlMs: number,
): FailedVersion | undefined {
  const entry = state.failedVersions[manifest.version];
  if (!live(entry, nowMs, ttlMs)) return undefined;
  return entry.imageSha256Hex === undefined || entry.imageSha256Hex === manifest.imageSha256 ? entry : undefined;
}

/** A newer verified version was applied: failures of it and of older versions are forgotten; so are expired ones. */
export function forgetFailures(state: PersistedState, applied: string | undefined, nowMs: number, ttlMs: number): PersistedState {
  const kept: PersistedState['failedVersions'] = {};
  for (const [version, entry] of Object.entries(state.failedVersions)) {
    if (!live(entry, nowMs, ttlMs)) continue;
    if (applied !== undefined && compareVersions(version, applied) <= 0) continue;
    kept[version] = entry;
  }
  return { ...state, failedVersions: kept };
}
