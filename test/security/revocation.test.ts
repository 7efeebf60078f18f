// Attacks on key revocation (issue 14, point 5): whoever can plant a symlink or garble a file in the
// keys directory must not be able to make a revocation silently vanish. Each hostile layout stops the
// keyring from loading (ERR_KEYRING naming the entry); the real daemon then writes nothing.

import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../src/payload/keyring.ts';
import { keyIdOf } from '../../src/payload/signature.ts';
import { TEST_KEYS_DIR, TEST_PUBLIC_KEY, UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-revoke-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const SECOND_PUBLIC = join(TEST_KEYS_DIR, 'test-only-ed25519-second.pub.pem');
const idOf = async (path: string) => keyIdOf(createPublicKey(await readFile(path, 'utf8')));

/** A keys directory with both test keys trusted, then `hostile` arranges the revocation of the second. */
async function keysDir(hostile: (root: string, elsewhere: string) => Promise<void>): Promise<string> {
  const root = join(dir, `keys-${++n}`);
  const elsewhere = join(dir, `elsewhere-${n}`);
  await mkdir(root, { recursive: true });
  await mkdir(elsewhere, { recursive: true });
  await copyFile(TEST_PUBLIC_KEY, join(root, 'a.pem'));
  await copyFile(SECOND_PUBLIC, join(root, 'b.pem'));
  await hostile(root, elsewhere);
  return root;
}

describe('revocations fail closed (point 5)', () => {
  const layouts: Array<[string, (root: string, elsewhere: string) => Promise<void>, RegExp]> = [
    [
      'revoked.list is a symlink',
      async (root, elsewhere) => {
        await writeFile(join(elsewhere, 'list'), `${await idOf(SECOND_PUBLIC)}\n`);
        await symlink(join(elsewhere, 'list'), join(root, 'revoked.list'));
      },
      /revoked\.list" is a symlink/,
    ],
    [
      'revoked.list is a dangling symlink',
      async (root, elsewhere) => {
        await symlink(join(elsewhere, 'gone'), join(root, 'revoked.list'));
      },
      /revoked\.list" is a symlink/,
    ],
    [
      'revoked.list is a directory',
      async (root) => {
        await mkdir(join(root, 'revoked.list'));
      },
      /revoked\.list" is not a regular file/,
    ],
    [
      'revoked/ is a symlink to a directory',
      async (root, elsewhere) => {
        await copyFile(SECOND_PUBLIC, join(elsewhere, 'b.pem'));
        await symlink(elsewhere, join(root, 'revoked'));
      },
      /revoked" is a symlink/,
    ],
    [
      'revoked is a regular file',
      async (root) => {
        await writeFile(join(root, 'revoked'), 'b.pem\n');
      },
      /revoked" is not a directory/,
    ],
    [
      'revoked/b.pem is a symlink',
      async (root) => {
        await mkdir(join(root, 'revoked'));
        await symlink(SECOND_PUBLIC, join(root, 'revoked', 'b.pem'));
      },
      /revoked\/b\.pem" is a symlink/,
    ],
    [
      'revoked/ holds a file that is not *.pem',
      async (root) => {
        await mkdir(join(root, 'revoked'));
        await copyFile(SECOND_PUBLIC, join(root, 'revoked', 'b.pem.txt'));
      },
      /b\.pem\.txt" in the revoked keys is not a \*\.pem file/,
    ],
    [
      'revoked/b.pem holds no key',
      async (root) => {
        await mkdir(join(root, 'revoked'));
        await writeFile(join(root, 'revoked', 'b.pem'), 'garbage');
      },
      /holds no PEM public key/,
    ],
    [
      'revoked.list has a malformed line',
      async (root) => {
        await writeFile(join(root, 'revoked.list'), `${(await idOf(SECOND_PUBLIC)).slice(0, 30)}\n`);
      },
      /Line 1 of .* is not a key id/,
    ],
  ];

  it.each(layouts)('%s: the keyring does not load (ERR_KEYRING)', async (_name, hostile, message) => {
    const root = await keysDir(hostile);
    await expect(loadKeyring(root)).rejects.toMatchObject({ code: 'ERR_KEYRING', message: expect.stringMatching(message) });
  });

  it('the plain revocation still works (the control)', async () => {
    const root = await keysDir(async (r) => writeFile(join(r, 'revoked.list'), `${await idOf(SECOND_PUBLIC)}\n`));
    expect([...(await loadKeyring(root)).revokedKeyIds]).toEqual([await idOf(SECOND_PUBLIC)]);
  });

  it('the daemon with a symlinked revocation list stops with ERR_KEYRING and writes nothing to the passive slot', async () => {
    const lab = new UpdateLab({ dir: await mkdtemp(join(dir, 'lab-')), initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
    await lab.setUp();
    try {
      await lab.addPayload('2.0.0', { privateKeyPem: await readFile(join(TEST_KEYS_DIR, 'test-only-ed25519-second.pem'), 'utf8') });
      await lab.serve();
      const root = await keysDir(async (r, elsewhere) => {
        await writeFile(join(elsewhere, 'list'), `${await idOf(SECOND_PUBLIC)}\n`);
        await symlink(join(elsewhere, 'list'), join(r, 'revoked.list'));
      });
      const slotB = (await lab.slots()).find((s) => s.partition === 4)!;
      const before = (await readFile(lab.disk)).subarray(slotB.byteOffset, slotB.byteOffset + slotB.byteLength);
      const outcome = await runDaemon(lab.settings({ publicKeys: root }), {
        once: true,
        logger: silentLogger(),
        signal: new AbortController().signal,
        identityPaths: lab.identityPaths(),
        overrides: { rebooter: new RecordingRebooter() },
      }).catch((e: { code?: string }) => e.code);
      expect(outcome).toBe('ERR_KEYRING');
      const after = (await readFile(lab.disk)).subarray(slotB.byteOffset, slotB.byteOffset + slotB.byteLength);
      expect(after.equals(before)).toBe(true);
      expect((await lab.slots()).find((s) => s.partition === 4)?.priority).toBe(0);
    } finally {
      await lab.close();
    }
  });
});
