// Signatures over the manifest's exact bytes: the algorithms (Ed25519, RSA PKCS#1 v1.5 and PSS with
// SHA-256, ECDSA P-256), key ids (SHA-256 of the public key's DER), sign/verify, the signatures entry JSON.

import { createHash, createPrivateKey, createPublicKey, constants, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { UpdateEngineError } from '../errors.ts';

export const SIGNATURE_ALGORITHMS = ['ed25519', 'rsa-pkcs1-sha256', 'rsa-pss-sha256', 'ecdsa-p256-sha256'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
/** The signatures entry may not be larger than this. */
export const SIGNATURES_MAX_BYTES = 64 * 1024;
export const MAX_SIGNATURES = 32;

export interface PayloadSignature {
  /** Which key made it: keyIdOf(public key). */
  keyId: string;
  algorithm: SignatureAlgorithm;
  /** Base64 of the raw signature bytes. */
  signature: string;
}

const signaturesSchema = z.strictObject({
  signatures: z
    .array(
      z.strictObject({
        keyId: z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex digits'),
        algorithm: z.string().max(64),
        signature: z.string().max(4096),
      }),
    )
    .max(MAX_SIGNATURES),
});

/** Key id: the first 16 bytes of the SHA-256 of the public key's SubjectPublicKeyInfo DER, in hex. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 32);
}

/** The default algorithm for a key: Ed25519, RSA PKCS#1 v1.5 + SHA-256, or ECDSA P-256 + SHA-256. */
export function algorithmForKey(key: KeyObject): SignatureAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'ed25519';
  if (type === 'rsa') return 'rsa-pkcs1-sha256';
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  throw new UpdateEngineError(
    'ERR_KEYRING',
    `Unsupported key type "${type ?? 'unknown'}${type === 'ec' ? ` (${key.asymmetricKeyDetails?.namedCurve ?? '?'})` : ''}": use Ed25519, RSA or ECDSA P-256`,
  );
}

/** Whether an algorithm can be used with a key (RSA keys do PKCS#1 v1.5 and PSS). */
export function algorithmFits(algorithm: SignatureAlgorithm, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (algorithm === 'ed25519') return type === 'ed25519';
  if (algorithm === 'ecdsa-p256-sha256') return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  return type === 'rsa';
}

function keyParams(algorithm: SignatureAlgorithm, key: KeyObject) {
  if (algorithm === 'rsa-pss-sha256') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  if (algorithm === 'rsa-pkcs1-sha256') return { key, padding: constants.RSA_PKCS1_PADDING };
  if (algorithm === 'ecdsa-p256-sha256') return { key, dsaEncoding: 'der' as const };
  return { key };
}

/** Signs data with a private key (algorithm defaults to the key's). */
export function signBytes(data: Uint8Array, privateKey: KeyObject, algorithm = algorithmForKey(privateKey)): Buffer {
  if (!algorithmFits(algorithm, privateKey))
    throw new UpdateEngineError('ERR_USAGE', `Algorithm "${algorithm}" does not fit a ${privateKey.asymmetricKeyType} key`);
  return sign(algorithm === 'ed25519' ? null : 'sha256', data, keyParams(algorithm, privateKey));
}

/** Verifies; false (never throws) for a signature that is malformed or does not match. */
export function verifyBytes(data: Uint8Array, signatureBytes: Uint8Array, publicKey: KeyObject, algorithm: SignatureAlgorithm): boolean {
  if (!algorithmFits(algorithm, publicKey)) return false;
  const params =
    algorithm === 'rsa-pss-sha256'
      ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
      : keyParams(algorithm, publicKey);
  try {
    return verify(algorithm === 'ed25519' ? null : 'sha256', data, params, signatureBytes);
  } catch {
    return false;
  }
}

/** A private key from PEM text (ERR_KEYRING with `source` in the message when it is not one). */
export function privateKeyFromPem(pem: string | Buffer, source = 'the private key'): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new UpdateEngineError('ERR_KEYRING', `Cannot read a private key from ${source}: ${(e as Error).message}`, { cause: e });
  }
}

/** A public key from PEM text (a public key, or the public half of a private key). */
export function publicKeyFromPem(pem: string | Buffer, source = 'the public key'): KeyObject {
  try {
    return createPublicKey(pem);
  } catch (e) {
    throw new UpdateEngineError('ERR_KEYRING', `Cannot read a public key from ${source}: ${(e as Error).message}`, { cause: e });
  }
}

export function isSignatureAlgorithm(text: string): text is SignatureAlgorithm {
  return (SIGNATURE_ALGORITHMS as readonly string[]).includes(text);
}

/** Parses the signatures entry (ERR_PAYLOAD_FORMAT when it is not the expected JSON). Unknown algorithms are kept (and ignored later). */
export function parseSignatures(bytes: Uint8Array): Array<{ keyId: string; algorithm: string; signature: string }> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload signatures entry is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const parsed = signaturesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload signatures entry is invalid: "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data.signatures;
}

/** The exact bytes of a signatures entry. */
export function serializeSignatures(signatures: ReadonlyArray<{ keyId: string; algorithm: string; signature: string }>): Buffer {
  if (signatures.length > MAX_SIGNATURES) throw new UpdateEngineError('ERR_USAGE', `A payload holds at most ${MAX_SIGNATURES} signatures`);
  return Buffer.from(`${JSON.stringify({ signatures }, null, 2)}\n`, 'utf8');
}
