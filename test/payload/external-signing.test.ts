// Signing outside the tool: the exact manifest bytes, attaching a signature made by openssl, adding
// a second one, replacing a signature by the same key, and refusing one that does not verify.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPayload } from '../../src/payload/create.ts';
import { addSignature, attachSignature, manifestToSign } from '../../src/payload/external-signing.ts';
import { readPayloadFileHeader } from '../../src/payload/inspect.ts';
import { keyringFromPems } from '../../src/payload/keyring.ts';
import { keyIdOf } from '../../src/payload/signature.ts';
import { verifyPayloadFile } from '../../src/payload/verify.ts';
import { requireTool } from '../helpers/tools.ts';
import { ED2_PRIVATE, ED2_PUBLIC, ED_PRIVATE, ED_PUBLIC, RSA_PUBLIC, keyPath, seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let unsigned: string;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('external-signing-'));
  await writeFile(join(dir, 'usr.img'), seededBytes(150_000, 5));
  unsigned = join(dir, 'unsigned.payload');
  await createPayload({ imagePath: join(dir, 'usr.img'), out: unsigned, version: '4.0.0', unsigned: true, blockSizeBytes: 16384, compression: 'gzip' });
});
afterAll(() => cleanup());

describe('external signing', () => {
  it('attaches an Ed25519 signature made by openssl pkeyutl -rawin, then a second one', async () => {
    requireTool('openssl');
    const manifestPath = join(dir, 'manifest.json');
    await writeFile(manifestPath, await manifestToSign(unsigned));
    const sigPath = join(dir, 'manifest.sig');
    execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyPath('test-only-ed25519.pem'), '-rawin', '-in', manifestPath, '-out', sigPath]);
    const out = join(dir, 'signed.payload');
    const r = await attachSignature(unsigned, { signature: await readFile(sigPath), publicKeyPem: ED_PUBLIC, out });
    expect(r.signatureKeyIds).toEqual(['c294301c54239f02563588a7244fab0e']);
    expect((await verifyPayloadFile(out, { keyring: keyringFromPems([ED_PUBLIC]) })).signedBy).toBe('c294301c54239f02563588a7244fab0e');

    const both = join(dir, 'both.payload');
    await addSignature(out, { privateKeyPem: ED2_PRIVATE, out: both });
    expect((await verifyPayloadFile(both, { keyring: keyringFromPems([ED2_PUBLIC]) })).signedBy).toBe(keyIdOf(createPublicKey(ED2_PUBLIC)));
    const header = await readPayloadFileHeader(both);
    expect(header.signatures.map((s) => s.algorithm)).toEqual(['ed25519', 'ed25519']);
    expect(header.manifestBytes.equals(await manifestToSign(unsigned))).toBe(true);
  });

  it('rewrites in place, and a new signature by the same key replaces the old one', async () => {
    const path = join(dir, 'inplace.payload');
    await writeFile(path, await readFile(unsigned));
    await addSignature(path, { privateKeyPem: ED_PRIVATE });
    const again = await addSignature(path, { privateKeyPem: ED_PRIVATE });
    expect(again.signatureKeyIds).toEqual(['c294301c54239f02563588a7244fab0e']);
    expect(again.out).toBe(path);
    const verified = await verifyPayloadFile(path, { keyring: keyringFromPems([ED_PUBLIC]) });
    expect(verified.payloadSha256Base64).toBe(again.payloadSha256Base64);
  });

  it('refuses a signature that does not verify with the given key', async () => {
    const before = await readFile(unsigned);
    await expect(attachSignature(unsigned, { signature: Buffer.alloc(64, 1), publicKeyPem: ED_PUBLIC })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_SIGNATURE',
      message: 'The signature does not verify over the manifest with key "c294301c54239f02563588a7244fab0e" (ed25519)',
    });
    await expect(attachSignature(unsigned, { signature: Buffer.alloc(256, 1), publicKeyPem: RSA_PUBLIC })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_SIGNATURE',
    });
    expect((await readFile(unsigned)).equals(before)).toBe(true);
  });

  it('refuses to sign a file that is not a payload', async () => {
    const junk = join(dir, 'junk');
    await writeFile(junk, seededBytes(2048, 1));
    await expect(addSignature(junk, { privateKeyPem: ED_PRIVATE })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Not a payload archive: the first 512 bytes are not a tar header (bad checksum)',
    });
  });
});
