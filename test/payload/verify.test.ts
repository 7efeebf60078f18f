// verifyPayloadFile: the apply's checks without a slot; machine checks only when asked.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiscardTarget, verifyPayloadFile } from '../../src/payload/verify.ts';
import { buildPayload, flipBit, seededBytes, sha256Hex, tempDir, trustEd } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let path: string;
let dataOffset: number;
const image = seededBytes(100_000, 71);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('verify-'));
  path = join(dir, 'p.payload');
  ({ dataOffset } = await buildPayload(path, { image, blockSize: 4096, version: '5.0.0', board: 'amd64-usr' }));
});
afterAll(() => cleanup());

describe('verifyPayloadFile', () => {
  it('verifies everything and reports the hashes', async () => {
    const r = await verifyPayloadFile(path, { keyring: trustEd() });
    expect(r).toMatchObject({
      imageSha256Hex: sha256Hex(image),
      payloadSha256Base64: createHash('sha256')
        .update(await readFile(path))
        .digest('base64'),
      resumed: false,
      blocksWritten: 25,
    });
  });

  it('checks the machine when asked', async () => {
    await expect(verifyPayloadFile(path, { keyring: trustEd(), expect: { appId: 'a', board: 'arm64-usr', allowDowngrade: false } })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_TARGET',
    });
  });

  it('finds a damaged block', async () => {
    await flipBit(path, dataOffset + 4096 * 3 + 1);
    await expect(verifyPayloadFile(path, { keyring: trustEd() })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: expect.stringContaining('Block 3 SHA-256 is'),
    });
  });

  it('DiscardTarget keeps nothing and cannot be read back', async () => {
    const t = new DiscardTarget();
    await t.write();
    await expect(t.read()).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
  });
});
