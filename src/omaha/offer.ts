// What an update check yields (UpdateOffer | NoUpdate), PollInterval clamping, and the comparison of
// a downloaded payload's size and SHA-256 with the offer (ERR_PAYLOAD_SIZE_MISMATCH / _HASH_MISMATCH).

import { timingSafeEqual } from 'node:crypto';
import { UpdateEngineError } from '../errors.ts';

/** update_engine's default when the response does not set MaxFailureCountPerUrl. */
export const DEFAULT_MAX_FAILURE_COUNT_PER_URL = 10;
/** A server's PollInterval is honoured within these bounds (REFERENCE §1). */
export const MIN_POLL_INTERVAL_MS = 45 * 60_000;
export const MAX_POLL_INTERVAL_MS = 4 * 60 * 60_000;

/** The server offers an update. */
export interface UpdateOffer {
  kind: 'update';
  /** The app id the server answered for. */
  appId: string;
  /** manifest@version: the version the payload installs. */
  version: string;
  /** Payload URLs in the order to try them: each url@codebase (with a trailing /) + the first package's name. */
  urls: string[];
  /** The first package's name (the payload file name). */
  packageName: string;
  /** package@size: the payload file's size in bytes (> 0). */
  sizeBytes: number;
  /** action@sha256: base64 SHA-256 of the whole payload file. */
  sha256Base64: string;
  /** package@hash: base64 SHA-1 (legacy; informative only). */
  sha1Base64?: string;
  /** updatecheck@PollInterval, clamped to [45 min, 4 h]; undefined when the server did not set it. */
  pollIntervalMs?: number | undefined;
  /** Failures allowed per URL before moving to the next one. */
  maxFailureCountPerUrl: number;
  disablePayloadBackoff: boolean;
  isDeltaPayload: boolean;
  /** response@server, for logs. */
  server?: string | undefined;
}

/** The server has no update for this client. */
export interface NoUpdate {
  kind: 'noupdate';
  appId: string;
  pollIntervalMs?: number | undefined;
  server?: string | undefined;
}

/**
 * The server answered but holds this machine back (Nebraska's rollout policy), or counts an update as
 * already in progress on it: no update now, and not an error (src/omaha/rollout-answer.ts).
 */
export interface RefusedCheck {
  kind: 'refused';
  appId: string;
  refusal: 'policy' | 'in-progress';
  /** The app status as sent, e.g. "error-maxConcurrentUpdatesLimitReached". */
  reason: string;
  explanation: string;
  /** Never set by Nebraska on a refusal; kept for a uniform CheckResult. */
  pollIntervalMs?: number | undefined;
  server?: string | undefined;
}

export type CheckResult = UpdateOffer | NoUpdate | RefusedCheck;

/** Clamps a server's PollInterval (seconds) to [45 min, 4 h] in ms; undefined for a missing or invalid value. */
export function clampPollIntervalMs(seconds: number | undefined): number | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.min(MAX_POLL_INTERVAL_MS, Math.max(MIN_POLL_INTERVAL_MS, Math.round(seconds * 1000)));
}

/** The payload URL for a codebase: codebase with a trailing "/" + the package name. */
export function payloadUrl(codebase: string, packageName: string): string {
  return `${codebase.endsWith('/') ? codebase : `${codebase}/`}${packageName}`;
}

/** What the download observed of the payload file. */
export interface ObservedPayload {
  sizeBytes: number;
  /** Base64 SHA-256 of the whole file; undefined when it could not be computed (a resumed apply). */
  sha256Base64?: string | undefined;
}

function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'base64');
  const y = Buffer.from(b, 'base64');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Throws ERR_PAYLOAD_SIZE_MISMATCH when the size differs from the offer. */
export function checkPayloadSize(offer: Pick<UpdateOffer, 'sizeBytes' | 'version'>, sizeBytes: number): void {
  if (sizeBytes !== offer.sizeBytes) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_SIZE_MISMATCH',
      `Payload for version "${offer.version}" is ${sizeBytes} bytes, but the offer says ${offer.sizeBytes}`,
      {
        details: { expectedBytes: offer.sizeBytes, actualBytes: sizeBytes },
      },
    );
  }
}

/** Throws ERR_PAYLOAD_HASH_MISMATCH when the base64 SHA-256 differs from the offer's. */
export function checkPayloadSha256(offer: Pick<UpdateOffer, 'sha256Base64' | 'version'>, sha256Base64: string): void {
  if (!sameDigest(sha256Base64, offer.sha256Base64)) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_HASH_MISMATCH',
      `Payload for version "${offer.version}" has SHA-256 "${sha256Base64}", but the offer says "${offer.sha256Base64}"`,
      {
        details: { expected: offer.sha256Base64, actual: sha256Base64 },
      },
    );
  }
}

/**
 * Compares a downloaded payload with the offer: size always, SHA-256 when it was computed.
 * Returns whether the SHA-256 was checked (false for a resumed apply, whose skipped bytes were not hashed).
 */
export function checkPayloadAgainstOffer(offer: Pick<UpdateOffer, 'sizeBytes' | 'sha256Base64' | 'version'>, observed: ObservedPayload): boolean {
  checkPayloadSize(offer, observed.sizeBytes);
  if (observed.sha256Base64 === undefined) return false;
  checkPayloadSha256(offer, observed.sha256Base64);
  return true;
}
