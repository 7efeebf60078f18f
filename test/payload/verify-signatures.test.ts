// Which signatures make a manifest trusted: one good signature by a trusted, unrevoked key.

import { describe, expect, it } from 'vitest';
import { keyringFromPems } from '../../src/payload/keyring.ts';
import { signWithPrivateKey } from '../../src/payload/signers.ts';
import { verifyManifestSignatures } from '../../src/payload/verify-signatures.ts';
import { ED2_PRIVATE, ED2_PUBLIC, ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, RSA_PUBLIC } from './helpers.ts';

const manifest = Buffer.from('{"formatVersion": 1, "version": "1.0.0"}\n');
const ed = signWithPrivateKey(manifest, ED_PRIVATE);
const ed2 = signWithPrivateKey(manifest, ED2_PRIVATE);
const rsa = signWithPrivateKey(manifest, RSA_PRIVATE);

describe('verifyManifestSignatures', () => {
  it('accepts one good signature by a trusted key, whatever else is there', () => {
    const ring = keyringFromPems([RSA_PUBLIC]);
    const junk = { keyId: 'f'.repeat(32), algorithm: 'ed25519', signature: 'AAAA' };
    expect(verifyManifestSignatures(manifest, [junk, ed, rsa], ring)).toEqual({ keyId: rsa.keyId, verifiedKeyIds: [rsa.keyId] });
  });

  it('lists every trusted key that verified', () => {
    expect(verifyManifestSignatures(manifest, [ed, ed2], keyringFromPems([ED_PUBLIC, ED2_PUBLIC])).verifiedKeyIds).toEqual([ed.keyId, ed2.keyId]);
  });

  it('refuses a signature with an algorithm that does not fit the key', () => {
    const ring = keyringFromPems([RSA_PUBLIC]);
    expect(() => verifyManifestSignatures(manifest, [{ ...rsa, algorithm: 'ed25519' }], ring)).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_SIGNATURE', message: `Signature by trusted key "${rsa.keyId}" does not verify over the manifest` }),
    );
  });

  it('refuses when the only good signature is by a revoked key, accepts when another trusted key signed too', () => {
    const ring = keyringFromPems([ED_PUBLIC, ED2_PUBLIC], [ed.keyId]);
    expect(() => verifyManifestSignatures(manifest, [ed], ring)).toThrow(
      expect.objectContaining({ message: `Payload is signed by revoked key "${ed.keyId}" and by no other trusted key` }),
    );
    expect(verifyManifestSignatures(manifest, [ed, ed2], ring).keyId).toBe(ed2.keyId);
  });

  it('refuses signatures over other bytes', () => {
    expect(() => verifyManifestSignatures(Buffer.from(`${manifest.toString()} `), [ed], keyringFromPems([ED_PUBLIC]))).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_SIGNATURE' }),
    );
  });

  it('refuses no signatures', () => {
    expect(() => verifyManifestSignatures(manifest, [], keyringFromPems([ED_PUBLIC]))).toThrow(
      expect.objectContaining({ message: 'Payload has no signatures' }),
    );
  });
});
