// createPayload: a tar that GNU tar lists, reproducible bytes, signers, and refusals.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPayload } from '../../src/payload/create.ts';
import { readPayloadFileHeader } from '../../src/payload/inspect.ts';
import { requireTool } from '../helpers/tools.ts';
import { ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, seededBytes, sha256Hex, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let imagePath: string;
const image = seededBytes(200_000, 21);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('create-'));
  imagePath = join(dir, 'usr.img');
  await writeFile(imagePath, image);
});
afterAll(() => cleanup());

describe('createPayload', () => {
  it('writes a tar that GNU tar lists as exactly the five entries (format version 2), and the right manifest', async () => {
    requireTool('tar');
    const out = join(dir, 'a.payload');
    const r = await createPayload({
      imagePath,
      out,
      version: '3.0.0',
      privateKeyPem: ED_PRIVATE,
      blockSizeBytes: 8192,
      appId: '{x}',
      board: 'amd64-usr',
      buildTimeSeconds: 1_700_000_000,
    });
    expect(execFileSync('tar', ['tf', out], { encoding: 'utf8' })).toBe('manifest.json\nsignatures.json\nblock-table.bin\nchunk-index.bin\nimage-data.bin\n');
    expect(r.manifest).toEqual({
      formatVersion: 2,
      version: '3.0.0',
      appId: '{x}',
      board: 'amd64-usr',
      buildTimeSeconds: 1_700_000_000,
      imageSize: 200_000,
      blockSize: 8192,
      blockCount: 25,
      compression: 'none',
      imageSha256: sha256Hex(image),
      blockTableSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      chunkScheme: 'fastcdc-4k-16k-64k',
      chunkCount: expect.any(Number),
      chunkIndexSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(execFileSync('tar', ['xOf', out, 'chunk-index.bin']).byteLength).toBe((r.manifest.chunkCount ?? 0) * 20);
    expect(execFileSync('tar', ['xOf', out, 'image-data.bin']).equals(image)).toBe(true);
    const header = await readPayloadFileHeader(out);
    expect(header.dataOffset).toBe(r.dataOffset);
    expect(r.signatureKeyIds).toEqual(['c294301c54239f02563588a7244fab0e']);
    expect(r.payloadSizeBytes).toBe((await readFile(out)).byteLength);
  });

  it('is reproducible: the same inputs give the same bytes', async () => {
    const a = join(dir, 'r1.payload');
    const b = join(dir, 'r2.payload');
    await createPayload({
      imagePath,
      out: a,
      version: '3.0.0',
      privateKeyPem: ED_PRIVATE,
      blockSizeBytes: 4096,
      compression: 'brotli',
      buildTimeSeconds: 1_700_000_000,
    });
    await createPayload({
      imagePath,
      out: b,
      version: '3.0.0',
      privateKeyPem: ED_PRIVATE,
      blockSizeBytes: 4096,
      compression: 'brotli',
      buildTimeSeconds: 1_700_000_000,
    });
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  });

  it('signs with several keys and with a signer (an HSM behind a function)', async () => {
    const hsm = { publicKeyPem: ED_PUBLIC, sign: async (data: Uint8Array) => sign(null, data, createPrivateKey(ED_PRIVATE)) };
    const r = await createPayload({
      imagePath,
      out: join(dir, 's.payload'),
      version: '3.0.0',
      privateKeyPem: [RSA_PRIVATE],
      signer: hsm,
      blockSizeBytes: 65536,
    });
    expect(r.signatureKeyIds).toEqual(['af7abcded81b48c74cc7fa01312f1fb1', 'c294301c54239f02563588a7244fab0e']);
  });

  it('writes an unsigned payload only when asked', async () => {
    await expect(createPayload({ imagePath, out: join(dir, 'x.payload'), version: '3.0.0' })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: 'A payload needs a private key or a signer (or unsigned: true, to be signed elsewhere)',
    });
    expect((await createPayload({ imagePath, out: join(dir, 'u.payload'), version: '3.0.0', unsigned: true })).signatureKeyIds).toEqual([]);
  });

  it('refuses bad input with the reason', async () => {
    await expect(createPayload({ imagePath: join(dir, 'missing.img'), out: join(dir, 'm.payload'), version: '1.0.0', unsigned: true })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringContaining(`Cannot open image "${join(dir, 'missing.img')}"`),
    });
    const empty = join(dir, 'empty.img');
    await writeFile(empty, '');
    await expect(createPayload({ imagePath: empty, out: join(dir, 'e.payload'), version: '1.0.0', unsigned: true })).rejects.toMatchObject({
      message: `Image "${empty}" is empty`,
    });
    await expect(createPayload({ imagePath, out: join(dir, 'v.payload'), version: 'v1', unsigned: true })).rejects.toMatchObject({
      message: 'Cannot create the payload: version: expected a semver-like version, e.g. 3374.2.0',
    });
    await expect(createPayload({ imagePath, out: join(dir, 'b.payload'), version: '1.0.0', unsigned: true, blockSizeBytes: 5000 })).rejects.toMatchObject({
      message: 'Cannot create the payload: blockSize: expected a power of two',
    });
  });
});
