// Making signatures: local keys, and signers in front of an HSM/KMS, checked before use.

import { describe, expect, it } from 'vitest';
import { createPrivateKey, sign } from 'node:crypto';
import { checkedSignature, makeSignatures } from '../../src/payload/signers.ts';
import { ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, RSA_PUBLIC } from './helpers.ts';

const manifest = Buffer.from('{"formatVersion": 1}\n');

describe('makeSignatures', () => {
  it('signs with each private key, then each signer, in order', async () => {
    const hsm = {
      publicKeyPem: RSA_PUBLIC,
      algorithm: 'rsa-pss-sha256' as const,
      sign: async (d: Uint8Array) => sign('sha256', d, { key: createPrivateKey(RSA_PRIVATE), padding: 6, saltLength: 32 }),
    };
    const sigs = await makeSignatures(manifest, [ED_PRIVATE], hsm);
    expect(sigs.map((s) => [s.keyId, s.algorithm])).toEqual([
      ['c294301c54239f02563588a7244fab0e', 'ed25519'],
      ['af7abcded81b48c74cc7fa01312f1fb1', 'rsa-pss-sha256'],
    ]);
  });

  it('refuses a signer whose signature does not verify with its public key', async () => {
    const broken = { publicKeyPem: ED_PUBLIC, sign: () => Buffer.alloc(64) };
    await expect(makeSignatures(manifest, undefined, broken)).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_SIGNATURE',
      message: 'The signature does not verify over the manifest with key "c294301c54239f02563588a7244fab0e" (ed25519)',
    });
  });

  it('refuses an algorithm that does not fit the key', () => {
    expect(() => checkedSignature(manifest, Buffer.alloc(64), ED_PUBLIC, 'rsa-pkcs1-sha256')).toThrow(
      expect.objectContaining({ code: 'ERR_USAGE', message: 'Algorithm "rsa-pkcs1-sha256" does not fit a ed25519 key' }),
    );
  });
});
