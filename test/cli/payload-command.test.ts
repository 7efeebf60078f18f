// update-engine payload create|inspect|verify|manifest|attach-signature|sign, run as a user would:
// the real binary, its output and exit codes, one-line errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';
import { keyPath, seededBytes, tempDir } from '../payload/helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let image: Buffer;
const ED_ID = 'c294301c54239f02563588a7244fab0e';
const RSA_ID = 'af7abcded81b48c74cc7fa01312f1fb1';

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('payload-cli-'));
  image = seededBytes(300_000, 11);
  await writeFile(join(dir, 'usr.img'), image);
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli('update-engine', ['payload', ...args]);

describe('update-engine payload', () => {
  it('create, inspect and verify a payload', async () => {
    const out = join(dir, 'a.payload');
    const created = await cli(
      'create',
      '--image',
      join(dir, 'usr.img'),
      '--private-key',
      keyPath('test-only-ed25519.pem'),
      '--version',
      '3374.2.0',
      '--out',
      out,
      '--block-size',
      '64K',
      '--app-id',
      '{app}',
      '--board',
      'amd64-usr',
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const bytes = await readFile(out);
    const sha = createHash('sha256').update(bytes).digest('base64');
    expect(created.stdout).toBe(
      `Wrote "${out}": ${bytes.byteLength} bytes, sha256 ${sha}\nversion 3374.2.0, image 300000 bytes in 5 blocks of 65536, compression none, 15 chunks (fastcdc-4k-16k-64k)\nsigned by key ${ED_ID}\n`,
    );

    const inspected = await cli('inspect', out);
    expect(inspected.code).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({
      formatVersion: 2,
      version: '3374.2.0',
      appId: '{app}',
      board: 'amd64-usr',
      imageSize: 300_000,
      blockSize: 65536,
      blockCount: 5,
      compression: 'none',
      chunkScheme: 'fastcdc-4k-16k-64k',
      chunkCount: 15,
    });

    const verified = await cli('verify', '--public-key', keyPath('test-only-ed25519.pub.pem'), out);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(
      `OK: "${out}" version 3374.2.0, signed by key ${ED_ID}\npayload ${bytes.byteLength} bytes, sha256 ${sha}; image 300000 bytes, sha256 `,
    );

    const wrongBoard = await cli('verify', '--public-key', keyPath('test-only-ed25519.pub.pem'), '--app-id', '{app}', '--board', 'arm64-usr', out);
    expect(wrongBoard).toMatchObject({ code: 4, stdout: '', stderr: 'update-engine: Payload is for board "amd64-usr", this machine is "arm64-usr"\n' });
  });

  it('verify exits 4 with one line for an untrusted key and for a damaged block', async () => {
    const out = join(dir, 'b.payload');
    expect(
      (
        await cli(
          'create',
          '--image',
          join(dir, 'usr.img'),
          '--private-key',
          keyPath('test-only-ed25519.pem'),
          '--version',
          '1.0.0',
          '--out',
          out,
          '--compression',
          'gzip',
        )
      ).code,
    ).toBe(0);
    const untrusted = await cli('verify', '--public-key', keyPath('test-only-rsa.pub.pem'), out);
    expect(untrusted).toMatchObject({
      code: 4,
      stderr: `update-engine: No signature on the payload is by a trusted key (signed by "${ED_ID}"; trusted: "${RSA_ID}")\n`,
    });
    const bytes = await readFile(out);
    const damaged = join(dir, 'b-damaged.payload');
    bytes.writeUInt8((bytes[bytes.byteLength - 1024 - 600] ?? 0) ^ 0x01, bytes.byteLength - 1024 - 600);
    await writeFile(damaged, bytes);
    const r = await cli('verify', '--public-key', keyPath('test-only-ed25519.pub.pem'), damaged);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^update-engine: Block 0 (does not decompress \(gzip\): .*|SHA-256 is [0-9a-f]{64}, the block table says [0-9a-f]{64})\n$/);
  });

  it('signs outside the tool: unsigned create, manifest, openssl, attach-signature, sign', async () => {
    requireTool('openssl');
    const out = join(dir, 'u.payload');
    const created = await cli('create', '--image', join(dir, 'usr.img'), '--unsigned', '--version', '2.0.0', '--out', out);
    expect(created.stdout).toContain('unsigned: sign it with payload manifest + attach-signature');
    const unsignedVerify = await cli('verify', '--public-key', keyPath('test-only-ed25519.pub.pem'), out);
    expect(unsignedVerify).toMatchObject({ code: 4, stderr: 'update-engine: Payload has no signatures\n' });

    const manifest = join(dir, 'manifest.json');
    expect((await cli('manifest', out, '--out', manifest)).code).toBe(0);
    const sig = join(dir, 'manifest.sig');
    execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyPath('test-only-ed25519.pem'), '-rawin', '-in', manifest, '-out', sig]);
    const attached = await cli('attach-signature', out, '--signature', sig, '--public-key', keyPath('test-only-ed25519.pub.pem'));
    expect(attached.code).toBe(0);
    expect(attached.stdout).toContain(`Signed by key ${ED_ID}: wrote "${out}"`);
    expect((await cli('verify', '--public-key', keyPath('test-only-ed25519.pub.pem'), out)).code).toBe(0);

    const second = join(dir, 'u2.payload');
    const signed = await cli('sign', out, '--private-key', keyPath('test-only-rsa.pem'), '--out', second);
    expect(signed.stdout).toContain(`signatures: ${ED_ID}, ${RSA_ID}\n`);
    expect((await cli('verify', '--public-key', keyPath('test-only-rsa.pub.pem'), second)).code).toBe(0);

    const wrong = await cli('attach-signature', out, '--signature', sig, '--public-key', keyPath('test-only-rsa.pub.pem'));
    expect(wrong).toMatchObject({
      code: 4,
      stderr: `update-engine: The signature does not verify over the manifest with key "${RSA_ID}" (rsa-pkcs1-sha256)\n`,
    });
  });

  it('explains usage errors in one line (the binary)', async () => {
    expect(await cli('create', '--image', join(dir, 'usr.img'), '--version', '1.0.0', '--out', join(dir, 'x.payload'))).toMatchObject({
      code: 2,
      stdout: '',
      stderr: "update-engine: Missing --private-key (or --unsigned, to sign elsewhere)\nTry 'update-engine --help'.\n",
    });
  });

  it('explains usage errors in one line (in process)', async () => {
    const { run } = await import('../../src/cli/commands/payload.ts');
    const { reportError } = await import('../../src/cli/run.ts');
    const { PassThrough } = await import('node:stream');
    const call = async (...argv: string[]) => {
      const stderr = new PassThrough();
      let text = '';
      stderr.on('data', (d: Buffer) => (text += d.toString()));
      const ctx = { stdout: new PassThrough(), stderr, env: {}, signal: new AbortController().signal };
      const code = await run(argv, ctx).catch((e: unknown) => reportError('update-engine', e, stderr, {}));
      return { code, stderr: text };
    };
    expect(await call('create', '--image', join(dir, 'usr.img'), '--unsigned', '--version', 'latest', '--out', join(dir, 'x.payload'))).toEqual({
      code: 2,
      stderr: 'update-engine: --version "latest" is not a semver-like version (e.g. 3374.2.0)\nTry \'update-engine --help\'.\n',
    });
    expect(
      (await call('create', '--image', join(dir, 'usr.img'), '--unsigned', '--version', '1.0.0', '--block-size', '3000', '--out', join(dir, 'x.payload')))
        .stderr,
    ).toBe("update-engine: Cannot create the payload: blockSize: Too small: expected number to be >=4096\nTry 'update-engine --help'.\n");
    expect(
      (await call('create', '--image', join(dir, 'usr.img'), '--unsigned', '--version', '1.0.0', '--block-size', 'big', '--out', join(dir, 'x.payload')))
        .stderr,
    ).toMatch(/^update-engine: --block-size "big": expected a size in bytes/);
    expect(await call('inspect', join(dir, 'missing.payload'))).toEqual({
      code: 2,
      stderr: `update-engine: Cannot read payload "${join(dir, 'missing.payload')}": no such file\nTry 'update-engine --help'.\n`,
    });
    expect((await call('frobnicate')).stderr).toBe(
      'update-engine: Unknown payload command "frobnicate" (expected create, inspect, verify, manifest, attach-signature, sign)\nTry \'update-engine --help\'.\n',
    );
    expect(
      (await call('attach-signature', join(dir, 'usr.img'), '--signature', join(dir, 'none.sig'), '--public-key', keyPath('test-only-ed25519.pub.pem'))).stderr,
    ).toMatch(/^update-engine: Cannot read signature ".*none.sig": ENOENT\n/);
    expect((await call('sign', join(dir, 'usr.img'), '--private-key', keyPath('test-only-ed25519.pem'), '--algorithm', 'md5')).stderr).toMatch(
      /^update-engine: Unknown --algorithm "md5" \(expected ed25519, /,
    );
    const noKeys = await call('verify', '--public-key', join(dir, 'nokeys'), join(dir, 'usr.img'));
    expect(noKeys).toMatchObject({ code: 4, stderr: expect.stringMatching(/^update-engine: Cannot read PUBLIC_KEYS ".*nokeys": .*\n$/) });
    expect(await call('inspect')).toMatchObject({ code: 2, stderr: expect.stringContaining('Missing the payload FILE') });
  });

  it('has --help for every command (in process)', async () => {
    const { run } = await import('../../src/cli/commands/payload.ts');
    const { PassThrough } = await import('node:stream');
    const call = async (...argv: string[]) => {
      const stdout = new PassThrough();
      let text = '';
      stdout.on('data', (d: Buffer) => (text += d.toString()));
      const code = await run(argv, { stdout, stderr: new PassThrough(), env: {}, signal: new AbortController().signal });
      return { code, text };
    };
    const top = await call('--help');
    expect(top.code).toBe(0);
    expect(top.text).toContain('attach-signature');
    for (const sub of ['create', 'inspect', 'verify', 'manifest', 'attach-signature', 'sign']) {
      const r = await call(sub, '--help');
      expect(r.code, sub).toBe(0);
      expect(r.text, sub).toMatch(new RegExp(`^Usage: update-engine payload ${sub}`));
    }
  });
});
