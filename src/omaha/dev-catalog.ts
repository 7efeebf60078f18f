// The development server's catalog: which payload answers an update check. The newest payload whose
// version is greater than the client's, on the server's track (any track when none is set). Pure.

import { UpdateEngineError } from '../errors.ts';
import { compareVersions, isVersion } from '../config/values.ts';

/** A payload the development server offers. */
export interface DevPayload {
  /** Its place in the URL: /payloads/<index>/<fileName>. */
  index: number;
  path: string;
  fileName: string;
  /** From the payload's manifest. */
  version: string;
  appId?: string | undefined;
  board?: string | undefined;
  sizeBytes: number;
  sha256Base64: string;
  sha1Base64: string;
}

export interface CatalogQuery {
  /** The client's app@version. */
  version: string;
  /** The client's app@track. */
  track: string;
}

/** Refuses two payloads of the same version (which one to offer would be a guess). */
export function checkCatalog(payloads: readonly DevPayload[]): void {
  for (let i = 0; i < payloads.length; i++) {
    for (let j = i + 1; j < payloads.length; j++) {
      const a = payloads[i] as DevPayload;
      const b = payloads[j] as DevPayload;
      if (compareVersions(a.version, b.version) === 0) {
        throw new UpdateEngineError('ERR_USAGE', `Payloads "${a.path}" and "${b.path}" both hold version "${a.version}"`);
      }
    }
  }
}

/** The payload to offer, or undefined for noupdate (other track, a client version that is not semver-like, nothing newer). */
export function selectPayload(payloads: readonly DevPayload[], query: CatalogQuery, serverTrack?: string): DevPayload | undefined {
  if (serverTrack !== undefined && query.track !== serverTrack) return undefined;
  if (!isVersion(query.version)) return undefined;
  let best: DevPayload | undefined;
  for (const p of payloads) {
    if (compareVersions(p.version, query.version) <= 0) continue;
    if (!best || compareVersions(p.version, best.version) > 0) best = p;
  }
  return best;
}
