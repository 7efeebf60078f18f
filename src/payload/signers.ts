// Making the signatures of a manifest: with local private keys (PEM), or with PayloadSigners (a function
// in front of an HSM or KMS). Each signature is checked against its public key before it is used.

import { createPublicKey } from 'node:crypto';
import { UpdateEngineError } from '../errors.ts';
import {
  algorithmFits,
  algorithmForKey,
  keyIdOf,
  privateKeyFromPem,
  publicKeyFromPem,
  signBytes,
  verifyBytes,
  type PayloadSignature,
  type SignatureAlgorithm,
} from './signature.ts';

/** Signs manifest bytes somewhere else (HSM, KMS, a remote service). */
export interface PayloadSigner {
  /** The signer's public key (PEM): gives the key id and checks the signature. */
  publicKeyPem: string;
  /** Default: Ed25519 for Ed25519 keys, rsa-pkcs1-sha256 for RSA, ecdsa-p256-sha256 for P-256. */
  algorithm?: SignatureAlgorithm;
  sign(manifestBytes: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

/** A signature entry for a signature made elsewhere; ERR_PAYLOAD_SIGNATURE when it does not verify with the key. */
export function checkedSignature(
  manifestBytes: Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string | Buffer,
  algorithm?: SignatureAlgorithm,
): PayloadSignature {
  const publicKey = publicKeyFromPem(publicKeyPem);
  const alg = algorithm ?? algorithmForKey(publicKey);
  if (!algorithmFits(alg, publicKey)) throw new UpdateEngineError('ERR_USAGE', `Algorithm "${alg}" does not fit a ${publicKey.asymmetricKeyType} key`);
  const keyId = keyIdOf(publicKey);
  if (!verifyBytes(manifestBytes, signature, publicKey, alg)) {
    throw new UpdateEngineError('ERR_PAYLOAD_SIGNATURE', `The signature does not verify over the manifest with key "${keyId}" (${alg})`);
  }
  return { keyId, algorithm: alg, signature: Buffer.from(signature).toString('base64') };
}

/** A signature with a local private key (PEM). */
export function signWithPrivateKey(manifestBytes: Uint8Array, privateKeyPem: string | Buffer, algorithm?: SignatureAlgorithm): PayloadSignature {
  const privateKey = privateKeyFromPem(privateKeyPem);
  const alg = algorithm ?? algorithmForKey(privateKey);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), algorithm: alg, signature: signBytes(manifestBytes, privateKey, alg).toString('base64') };
}

function asList<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** All signatures for a manifest: one per private key, then one per signer. */
export async function makeSignatures(
  manifestBytes: Uint8Array,
  privateKeyPem: string | readonly string[] | undefined,
  signer: PayloadSigner | readonly PayloadSigner[] | undefined,
): Promise<PayloadSignature[]> {
  const out = asList(privateKeyPem).map((pem) => signWithPrivateKey(manifestBytes, pem));
  for (const s of asList(signer)) {
    out.push(checkedSignature(manifestBytes, await s.sign(manifestBytes), s.publicKeyPem, s.algorithm));
  }
  return out;
}
