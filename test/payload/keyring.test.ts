// loadKeyring: a PEM file or a directory of *.pem, revoked/ and revoked.list, ERR_KEYRING on unusable input.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { loadKeyring } from '../../src/payload/keyring.ts';
import { keyIdOf } from '../../src/payload/signature.ts';
import { ED2_PUBLIC, ED_PRIVATE, ED_PUBLIC, RSA_PUBLIC, keyPath, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('keyring-test-')));
afterAll(() => cleanup());

const idOf = (pem: string) => keyIdOf(createPublicKey(pem));

function collectingLogger() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_obj: unknown, msg?: string) => void warnings.push(msg ?? '') } };
}

async function keyDir(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), text);
  }
  return root;
}

describe('loadKeyring', () => {
  it('loads one PEM file', async () => {
    const ring = await loadKeyring(keyPath('test-only-ed25519.pub.pem'));
    expect([...ring.keys.keys()]).toEqual([idOf(ED_PUBLIC)]);
    expect(ring.revokedKeyIds.size).toBe(0);
  });

  it('loads a PEM file holding two keys', async () => {
    const path = join(dir, 'two.pem');
    await writeFile(path, `${ED_PUBLIC}\n${RSA_PUBLIC}`);
    expect(new Set((await loadKeyring(path)).keys.keys())).toEqual(new Set([idOf(ED_PUBLIC), idOf(RSA_PUBLIC)]));
  });

  it('loads the *.pem of a directory and skips other files with a warning', async () => {
    const root = await keyDir('dir', { 'a.pem': ED_PUBLIC, 'b.pem': RSA_PUBLIC, 'README.txt': 'hello', 'old.pem.bak': ED2_PUBLIC });
    const { warnings, logger } = collectingLogger();
    const ring = await loadKeyring(root, { logger });
    expect(new Set(ring.keys.keys())).toEqual(new Set([idOf(ED_PUBLIC), idOf(RSA_PUBLIC)]));
    expect(warnings).toEqual([
      `Skipping "${join(root, 'README.txt')}" in the trusted keys: not a *.pem file`,
      `Skipping "${join(root, 'old.pem.bak')}" in the trusted keys: not a *.pem file`,
    ]);
  });

  it('revokes the keys in revoked/', async () => {
    const root = await keyDir('revoked-dir', { 'a.pem': ED_PUBLIC, 'b.pem': ED2_PUBLIC, 'revoked/b.pem': ED2_PUBLIC });
    const ring = await loadKeyring(root);
    expect([...ring.revokedKeyIds]).toEqual([idOf(ED2_PUBLIC)]);
    expect(ring.keys.has(idOf(ED_PUBLIC))).toBe(true);
  });

  it('revokes the key ids in revoked.list (comments and blank lines allowed)', async () => {
    const root = await keyDir('revoked-list', { 'a.pem': ED_PUBLIC, 'revoked.list': `# rotated out in 2025\n\n${idOf(ED2_PUBLIC)}  # old key\n` });
    expect([...(await loadKeyring(root)).revokedKeyIds]).toEqual([idOf(ED2_PUBLIC)]);
  });

  it('refuses a revoked.list line that is not a key id', async () => {
    const root = await keyDir('revoked-bad', { 'a.pem': ED_PUBLIC, 'revoked.list': 'not-a-key-id\n' });
    await expect(loadKeyring(root)).rejects.toMatchObject({
      code: 'ERR_KEYRING',
      message: `Line 1 of "${join(root, 'revoked.list')}" is not a key id (32 hex digits): "not-a-key-id"`,
    });
  });

  it('refuses a missing path', async () => {
    const path = join(dir, 'nope');
    await expect(loadKeyring(path)).rejects.toMatchObject({ code: 'ERR_KEYRING', message: expect.stringContaining(`Cannot read PUBLIC_KEYS "${path}"`) });
  });

  it('refuses a directory without keys', async () => {
    const root = await keyDir('empty', { 'notes.txt': 'x' });
    await expect(loadKeyring(root)).rejects.toMatchObject({ code: 'ERR_KEYRING', message: `No trusted public keys in "${root}" (expected *.pem files)` });
  });

  it('refuses a *.pem that holds no public key', async () => {
    const root = await keyDir('junk', { 'a.pem': 'just text' });
    await expect(loadKeyring(root)).rejects.toMatchObject({
      code: 'ERR_KEYRING',
      message: `Trusted key file "${join(root, 'a.pem')}" holds no PEM public key`,
    });
  });

  it('refuses a private key in the trusted keys', async () => {
    const root = await keyDir('private', { 'a.pem': ED_PRIVATE });
    await expect(loadKeyring(root)).rejects.toMatchObject({
      code: 'ERR_KEYRING',
      message: `Trusted key file "${join(root, 'a.pem')}" holds a private key; give machines only the public key`,
    });
  });

  it('refuses a corrupt PEM block', async () => {
    const root = await keyDir('corrupt', { 'a.pem': ED_PUBLIC.replace(/[A-Za-z]{8}/, 'AAAAAAAA') });
    await expect(loadKeyring(root)).rejects.toMatchObject({
      code: 'ERR_KEYRING',
      message: expect.stringContaining(`Cannot read a public key from "${join(root, 'a.pem')}"`),
    });
  });

  it('warns when every trusted key is revoked', async () => {
    const root = await keyDir('all-revoked', { 'a.pem': ED_PUBLIC, 'revoked/a.pem': ED_PUBLIC });
    const { warnings, logger } = collectingLogger();
    await loadKeyring(root, { logger });
    expect(warnings).toEqual([`Every trusted key in "${root}" is revoked: no payload will be accepted`]);
  });
});
