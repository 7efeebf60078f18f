// Signature algorithms against keys and against openssl, key ids, the signatures entry JSON.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  algorithmForKey,
  keyIdOf,
  parseSignatures,
  privateKeyFromPem,
  publicKeyFromPem,
  serializeSignatures,
  signBytes,
  verifyBytes,
  type SignatureAlgorithm,
} from '../../src/payload/signature.ts';
import { requireTool } from '../helpers/tools.ts';
import { ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, RSA_PUBLIC, keyPath, tempDir } from './helpers.ts';

const data = Buffer.from('{"formatVersion": 1}\n');

describe('sign and verify', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cases: Array<[SignatureAlgorithm, string | typeof ec.privateKey, string | typeof ec.publicKey]> = [
    ['ed25519', ED_PRIVATE, ED_PUBLIC],
    ['rsa-pkcs1-sha256', RSA_PRIVATE, RSA_PUBLIC],
    ['rsa-pss-sha256', RSA_PRIVATE, RSA_PUBLIC],
    ['ecdsa-p256-sha256', ec.privateKey, ec.publicKey],
  ];
  for (const [alg, priv, pub] of cases) {
    it(`${alg}: verifies its own signature, not a changed byte or another key`, () => {
      const privateKey = typeof priv === 'string' ? privateKeyFromPem(priv) : priv;
      const publicKey = typeof pub === 'string' ? publicKeyFromPem(pub) : pub;
      const sig = signBytes(data, privateKey, alg);
      expect(verifyBytes(data, sig, publicKey, alg)).toBe(true);
      expect(verifyBytes(Buffer.from(data.toString().replace('1', '2')), sig, publicKey, alg)).toBe(false);
      expect(verifyBytes(data, sig, publicKeyFromPem(alg === 'ed25519' ? RSA_PUBLIC : ED_PUBLIC), alg)).toBe(false);
      expect(verifyBytes(data, Buffer.alloc(3), publicKey, alg)).toBe(false);
    });
  }

  it('picks the algorithm from the key and refuses unsupported keys', () => {
    expect(algorithmForKey(publicKeyFromPem(ED_PUBLIC))).toBe('ed25519');
    expect(algorithmForKey(publicKeyFromPem(RSA_PUBLIC))).toBe('rsa-pkcs1-sha256');
    const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    expect(() => algorithmForKey(other)).toThrow(
      expect.objectContaining({ code: 'ERR_KEYRING', message: 'Unsupported key type "ec (secp384r1)": use Ed25519, RSA or ECDSA P-256' }),
    );
  });

  it('verifies signatures made by openssl (Ed25519 raw, RSA PKCS#1 v1.5 and PSS)', async () => {
    requireTool('openssl');
    const { dir, cleanup } = await tempDir('sig-openssl-');
    try {
      const msg = join(dir, 'manifest.json');
      await writeFile(msg, data);
      const run = (args: string[]) => execFileSync('openssl', args);
      run(['pkeyutl', '-sign', '-inkey', keyPath('test-only-ed25519.pem'), '-rawin', '-in', msg, '-out', join(dir, 'ed.sig')]);
      run(['dgst', '-sha256', '-sign', keyPath('test-only-rsa.pem'), '-out', join(dir, 'rsa.sig'), msg]);
      run([
        'dgst',
        '-sha256',
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:-2',
        '-sign',
        keyPath('test-only-rsa.pem'),
        '-out',
        join(dir, 'pss.sig'),
        msg,
      ]);
      expect(verifyBytes(data, await readFile(join(dir, 'ed.sig')), publicKeyFromPem(ED_PUBLIC), 'ed25519')).toBe(true);
      expect(verifyBytes(data, await readFile(join(dir, 'rsa.sig')), publicKeyFromPem(RSA_PUBLIC), 'rsa-pkcs1-sha256')).toBe(true);
      expect(verifyBytes(data, await readFile(join(dir, 'pss.sig')), publicKeyFromPem(RSA_PUBLIC), 'rsa-pss-sha256')).toBe(true);
      expect(verifyBytes(data, await readFile(join(dir, 'pss.sig')), publicKeyFromPem(RSA_PUBLIC), 'rsa-pkcs1-sha256')).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('key id: 32 hex digits of the SHA-256 of the DER public key, the same from the private key', () => {
    expect(keyIdOf(publicKeyFromPem(ED_PUBLIC))).toBe('c294301c54239f02563588a7244fab0e');
    expect(keyIdOf(createPublicKey(ED_PRIVATE))).toBe('c294301c54239f02563588a7244fab0e');
  });

  it('refuses text that is not a key', () => {
    expect(() => privateKeyFromPem('nope', '"k.pem"')).toThrow(
      expect.objectContaining({ code: 'ERR_KEYRING', message: expect.stringMatching(/^Cannot read a private key from "k.pem": /) }),
    );
  });
});

describe('signatures entry', () => {
  it('round-trips and keeps unknown algorithms (they are ignored later)', () => {
    const list = [{ keyId: 'a'.repeat(32), algorithm: 'future-alg', signature: 'AAAA' }];
    expect(parseSignatures(serializeSignatures(list))).toEqual(list);
  });
  const bad: Array<[string, string, string]> = [
    ['not JSON', '{"signatures": [', 'Payload signatures entry is not valid JSON'],
    [
      'a bad key id',
      JSON.stringify({ signatures: [{ keyId: 'xyz', algorithm: 'ed25519', signature: '' }] }),
      'Payload signatures entry is invalid: "signatures.0.keyId": expected 32 lowercase hex digits',
    ],
    ['an unknown key', JSON.stringify({ signatures: [], more: 1 }), 'Payload signatures entry is invalid'],
    [
      'too many signatures',
      JSON.stringify({ signatures: Array.from({ length: 33 }, () => ({ keyId: 'a'.repeat(32), algorithm: 'ed25519', signature: '' })) }),
      'Payload signatures entry is invalid: "signatures"',
    ],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parseSignatures(Buffer.from(text))).toThrow(
        expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT', message: expect.stringContaining(message) }),
      );
    });
  }
});
