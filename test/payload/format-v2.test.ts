// Payload format version 2: the chunk index (round trip, tiling, tampering), the scheme chosen from
// real filesystem images, version 1 payloads (--chunking none) still applying, version 3 refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { applyPayload, openFilePayload } from '../../src/payload/apply.ts';
import { chunkHash, ChunkIndexChecker, decodeChunkIndex, indexHash, schemeFromMagic } from '../../src/payload/chunk-index.ts';
import { chunkLengths } from '../../src/payload/chunker.ts';
import { createPayload, type ChunkingChoice } from '../../src/payload/create.ts';
import { readPayloadFileHeader } from '../../src/payload/inspect.ts';
import { parseManifest } from '../../src/payload/manifest.ts';
import { verifyPayloadFile } from '../../src/payload/verify.ts';
import { buildFsImage, type TestFs } from '../helpers/os-image.ts';
import { requireTool } from '../helpers/tools.ts';
import { ED_PRIVATE, checkRegion, flipBit, makeDisk, seededBytes, tempDir, trustEd } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('format-v2-')));
afterAll(() => cleanup());

const expectMachine = { appId: 'app', runningVersion: '1.0.0', allowDowngrade: false };

async function make(name: string, image: Buffer, chunking: ChunkingChoice | undefined) {
  const imagePath = join(dir, `${name}.img`);
  const out = join(dir, `${name}.payload`);
  await writeFile(imagePath, image);
  const created = await createPayload({ imagePath, out, version: '1.0.1', privateKeyPem: ED_PRIVATE, blockSizeBytes: 65536, ...(chunking && { chunking }) });
  return { out, created };
}

async function applyTo(name: string, payload: string, image: Buffer): Promise<void> {
  const disk = join(dir, `${name}.disk`);
  await makeDisk(disk, 4 << 20);
  await applyPayload(openFilePayload(payload), { target: new FileRegionTarget(disk, 4096, 3 << 20), keyring: trustEd(), expect: expectMachine });
  expect(await checkRegion(disk, 4096, 3 << 20, image, 65536)).toBe(Math.ceil(image.byteLength / 65536));
}

describe('format version 2', () => {
  for (const [chunking, scheme] of [
    ['fixed-4k', 'fixed-4k'],
    ['fastcdc', 'fastcdc-4k-16k-64k'],
  ] as const) {
    it(`round trips with --chunking ${chunking}: the index tiles the image and hashes each chunk`, async () => {
      const image = seededBytes(2_000_000 + 77, 5);
      const { out, created } = await make(`rt-${chunking}`, image, chunking);
      expect(created.manifest).toMatchObject({ formatVersion: 2, chunkScheme: scheme });
      const header = await readPayloadFileHeader(out);
      const index = header.chunkIndex;
      if (!index) throw new Error('no chunk index');
      expect(index.count).toBe(created.manifest.chunkCount);
      const lengths = Array.from({ length: index.count }, (_, i) => (index.starts[i + 1] ?? 0) - (index.starts[i] ?? 0));
      if (scheme === 'fixed-4k') expect(lengths.slice(0, -1).every((n) => n === 4096)).toBe(true);
      else expect(lengths).toEqual(chunkLengths(image, { minBytes: 4096, avgBytes: 16384, maxBytes: 65536 }));
      for (const i of [0, 1, index.count - 1]) {
        expect(indexHash(index, i)).toEqual(chunkHash(image.subarray(index.starts[i], index.starts[i + 1])));
      }
      await applyTo(`rt-${chunking}`, out, image);
      await expect(verifyPayloadFile(out, { keyring: trustEd() })).resolves.toMatchObject({ manifest: { formatVersion: 2 } });
    });
  }

  it('writes a version 1 payload with --chunking none, which still applies', async () => {
    const image = seededBytes(300_000, 6);
    const { out, created } = await make('v1', image, 'none');
    expect(created.manifest.formatVersion).toBe(1);
    expect(created.manifest).not.toHaveProperty('chunkScheme');
    expect((await readPayloadFileHeader(out)).chunkIndex).toBeUndefined();
    await applyTo('v1', out, image);
  });

  it('refuses format version 3 with a message that says what to do', () => {
    const m = { ...JSON.parse('{"formatVersion":3,"version":"1.0.0"}') };
    expect(() => parseManifest(Buffer.from(JSON.stringify(m)))).toThrow(
      expect.objectContaining({
        code: 'ERR_PAYLOAD_FORMAT',
        message: 'Payload format version 3 is newer than this engine reads (1 and 2): update update-engine first',
      }),
    );
  });

  it('refuses a chunk index changed after signing (its SHA-256 is in the signed manifest)', async () => {
    const image = seededBytes(200_000, 7);
    const { out, created } = await make('tampered', image, 'fixed-4k');
    const indexAt = created.dataOffset - 512 - Math.ceil(((created.manifest.chunkCount ?? 0) * 20) / 512) * 512;
    await flipBit(out, indexAt + 3);
    await expect(verifyPayloadFile(out, { keyring: trustEd() })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: expect.stringMatching(/^Chunk index SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/),
    });
  });

  it('refuses an index whose chunks do not tile the image, and an image that does not match it', () => {
    const records = Buffer.alloc(40);
    records.writeUInt32BE(4096, 16);
    records.writeUInt32BE(100, 36);
    expect(() => decodeChunkIndex(records, { chunkCount: 2, imageSize: 4097 })).toThrow(/covers 4196 bytes, the image has 4097/);
    const index = decodeChunkIndex(records, { chunkCount: 2, imageSize: 4196 });
    expect(() => new ChunkIndexChecker(index).push(Buffer.alloc(4196))).toThrow(/Chunk 0 \(image offset 0\) does not match/);
  });
});

describe('payload create --chunking auto picks the scheme from the filesystem and its block size', () => {
  const cases: Array<[TestFs | 'ext4-4k', string]> = [
    ['ext4-4k', 'fixed-4k'],
    // mkfs.ext4 gives a small filesystem 1 KiB blocks: its data is not 4 KiB-aligned.
    ['ext4', 'fastcdc-4k-16k-64k'],
    ['erofs', 'fixed-4k'],
    ['squashfs', 'fastcdc-4k-16k-64k'],
  ];
  for (const [fs, scheme] of cases) {
    it(`${fs} -> ${scheme}`, async () => {
      const tree = join(dir, `tree-${fs}`);
      mkdirSync(tree, { recursive: true });
      writeFileSync(join(tree, 'a.bin'), seededBytes(100_000, 8));
      const imagePath = join(dir, `fs-${fs}.img`);
      if (fs === 'ext4-4k') {
        requireTool('mkfs.ext4');
        writeFileSync(imagePath, Buffer.alloc(0));
        truncateSync(imagePath, 8 * 1024 * 1024);
        execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, imagePath], { stdio: 'pipe' });
      } else buildFsImage(tree, imagePath, fs);
      expect(schemeFromMagic(await readFile(imagePath))).toBe(scheme);
      const out = join(dir, `fs-${fs}.payload`);
      const created = await createPayload({ imagePath, out, version: '1.0.1', privateKeyPem: ED_PRIVATE });
      expect(created.manifest.chunkScheme).toBe(scheme);
    });
  }
  it('anything else -> fastcdc', () => {
    expect(schemeFromMagic(seededBytes(70_000, 9))).toBe('fastcdc-4k-16k-64k');
  });
});
