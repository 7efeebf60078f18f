// Round trips: createPayload -> applyPayload onto a region of a disk image, byte-compared with the
// source image, with the bytes around the region untouched; every compression, with and without read-back.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { applyPayload, openFilePayload, type ApplyProgress, type ByteRange } from '../../src/payload/apply.ts';
import { createPayload } from '../../src/payload/create.ts';
import { COMPRESSIONS } from '../../src/payload/manifest.ts';
import { ED_PRIVATE, checkRegion, makeDisk, seededBytes, sha256Hex, tempDir, trustEd } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('apply-test-')));
afterAll(() => cleanup());

const REGION_OFFSET = 1 << 20;
const REGION_SIZE = 3 << 20;
const expectMachine = { appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', board: 'amd64-usr', runningVersion: '1.0.0', allowDowngrade: false };

describe('applyPayload round trip', () => {
  for (const compression of COMPRESSIONS) {
    for (const readBack of [true, false]) {
      it(`writes the image exactly (${compression}, read-back ${readBack ? 'on' : 'off'})`, async () => {
        const image = seededBytes(2_500_000 + 123, compression.length + (readBack ? 10 : 20));
        const imagePath = join(dir, `img-${compression}-${readBack}.bin`);
        const payloadPath = join(dir, `p-${compression}-${readBack}.payload`);
        const diskPath = join(dir, `disk-${compression}-${readBack}.img`);
        await writeFile(imagePath, image);
        const created = await createPayload({ imagePath, out: payloadPath, version: '1.0.1', privateKeyPem: ED_PRIVATE, blockSizeBytes: 65536, compression, appId: expectMachine.appId, board: 'amd64-usr' });
        await makeDisk(diskPath, REGION_OFFSET + REGION_SIZE + (1 << 20));
        const progress: ApplyProgress[] = [];
        const requested: ByteRange[][] = [];
        const open = openFilePayload(payloadPath);
        const result = await applyPayload(
          (ranges, signal) => {
            requested.push(ranges);
            return open(ranges, signal);
          },
          { target: new FileRegionTarget(diskPath, REGION_OFFSET, REGION_SIZE), keyring: trustEd(), expect: expectMachine, readBack, syncEveryBytes: 256 * 1024, onProgress: (p) => progress.push(p) },
        );
        const payload = await readFile(payloadPath);
        expect(requested).toEqual([[{ start: 0 }]]);
        expect(result).toMatchObject({
          payloadSizeBytes: payload.byteLength,
          payloadSha256Base64: createHash('sha256').update(payload).digest('base64'),
          imageSha256Hex: sha256Hex(image),
          resumed: false,
          payloadBytesFetched: payload.byteLength,
          blocksWritten: 39,
        });
        expect(result.payloadSha256Base64).toBe(created.payloadSha256Base64);
        expect(result.manifest).toEqual(created.manifest);
        expect(await checkRegion(diskPath, REGION_OFFSET, REGION_SIZE, image, 65536)).toBe(39);
        const last = progress.at(-1);
        expect(last).toMatchObject({ phase: 'writing', blocksDone: 39, blocksTotal: 39, imageBytesDone: image.byteLength, imageBytesTotal: image.byteLength });
        expect(progress.map((p) => p.blocksDone)).toEqual([...progress.map((p) => p.blocksDone)].sort((a, b) => a - b));
      });
    }
  }

  it('accepts a payload for any machine (no app id, no board) and an RSA signature', async () => {
    const { RSA_PRIVATE, RSA_PUBLIC } = await import('./helpers.ts');
    const { keyringFromPems } = await import('../../src/payload/keyring.ts');
    const image = seededBytes(300_000, 77);
    const imagePath = join(dir, 'any.bin');
    const payloadPath = join(dir, 'any.payload');
    const diskPath = join(dir, 'any.img');
    await writeFile(imagePath, image);
    await createPayload({ imagePath, out: payloadPath, version: '9.9.9', privateKeyPem: RSA_PRIVATE, blockSizeBytes: 4096 });
    await makeDisk(diskPath, 400_000);
    const result = await applyPayload(openFilePayload(payloadPath), {
      target: new FileRegionTarget(diskPath, 0, 400_000),
      keyring: keyringFromPems([RSA_PUBLIC]),
      expect: { appId: 'some-other-app', allowDowngrade: false },
    });
    expect(result.imageSha256Hex).toBe(sha256Hex(image));
    expect(await checkRegion(diskPath, 0, 400_000, image, 4096)).toBe(74);
  });
});
