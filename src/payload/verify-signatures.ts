// Decides whether a manifest is trusted: at least one signature by a trusted, unrevoked key verifies
// over its exact bytes. Signatures by unknown keys are ignored; a revoked key's signature never counts.

import { UpdateEngineError } from '../errors.ts';
import type { Keyring } from './keyring.ts';
import { isSignatureAlgorithm, verifyBytes } from './signature.ts';

export interface SignatureVerdict {
  /** The trusted key whose signature verified (the first one, in payload order). */
  keyId: string;
  /** Every trusted key whose signature verified. */
  verifiedKeyIds: string[];
}

function fail(message: string): never {
  throw new UpdateEngineError('ERR_PAYLOAD_SIGNATURE', message);
}

function list(ids: readonly string[]): string {
  return ids.map((id) => `"${id}"`).join(', ');
}

/** ERR_PAYLOAD_SIGNATURE, saying which keys signed and why none is accepted. */
export function verifyManifestSignatures(
  manifestBytes: Uint8Array,
  signatures: ReadonlyArray<{ keyId: string; algorithm: string; signature: string }>,
  keyring: Keyring,
): SignatureVerdict {
  if (signatures.length === 0) fail('Payload has no signatures');
  const verified: string[] = [];
  const revoked: string[] = [];
  const failed: string[] = [];
  const unknown: string[] = [];
  for (const sig of signatures) {
    const key = keyring.keys.get(sig.keyId);
    if (!key) {
      unknown.push(sig.keyId);
      continue;
    }
    const ok = isSignatureAlgorithm(sig.algorithm) && verifyBytes(manifestBytes, Buffer.from(sig.signature, 'base64'), key.publicKey, sig.algorithm);
    if (!ok) failed.push(sig.keyId);
    else if (keyring.revokedKeyIds.has(sig.keyId)) revoked.push(sig.keyId);
    else verified.push(sig.keyId);
  }
  const first = verified[0];
  if (first !== undefined) return { keyId: first, verifiedKeyIds: verified };
  if (revoked.length > 0) fail(`Payload is signed by revoked key ${list(revoked)} and by no other trusted key`);
  if (failed.length > 0) fail(`Signature by trusted key ${list(failed)} does not verify over the manifest`);
  fail(`No signature on the payload is by a trusted key (signed by ${list(unknown)}; trusted: ${list([...keyring.keys.keys()])})`);
}
