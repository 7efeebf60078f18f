// readPayloadManifest reads only the first entry (unverified); readPayloadFileHeader reads the header region.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPayloadFileHeader, readPayloadManifest } from '../../src/payload/inspect.ts';
import { buildPayload, seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

describe('readPayloadManifest', () => {
  it('returns version, app id, board and image size', async () => {
    const path = join(dir, 'a.payload');
    await buildPayload(path, { image: seededBytes(100_000, 1), blockSize: 4096, version: '3374.2.0', appId: '{abc}', board: 'amd64-usr' });
    const m = await readPayloadManifest(path);
    expect(m).toMatchObject({ version: '3374.2.0', appId: '{abc}', board: 'amd64-usr', imageSize: 100_000, blockSize: 4096, blockCount: 25 });
  });

  it('reads only the first entry: a file cut right after the manifest still works', async () => {
    const path = join(dir, 'cut.payload');
    await buildPayload(path, { image: seededBytes(50_000, 2), blockSize: 4096, version: '1.0.1' });
    const bytes = await readFile(path);
    const size = parseInt(bytes.subarray(124, 135).toString('latin1'), 8);
    await truncate(path, 512 + Math.ceil(size / 512) * 512);
    expect((await readPayloadManifest(path)).version).toBe('1.0.1');
  });

  it('refuses garbage with ERR_PAYLOAD_FORMAT', async () => {
    const path = join(dir, 'garbage.payload');
    await writeFile(path, seededBytes(4096, 3));
    await expect(readPayloadManifest(path)).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Not a payload archive: the first 512 bytes are not a tar header (bad checksum)',
    });
  });

  it('refuses a manifest that is not valid JSON of the schema', async () => {
    const path = join(dir, 'bad-manifest.payload');
    await buildPayload(path, { image: seededBytes(10_000, 4), blockSize: 4096, editManifest: (m) => ({ ...m, blockCount: 7 }) });
    await expect(readPayloadManifest(path)).rejects.toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: expect.stringContaining('"blockCount"') });
  });
});

describe('readPayloadFileHeader', () => {
  it('gives the data offset and the block table', async () => {
    const path = join(dir, 'h.payload');
    const built = await buildPayload(path, { image: seededBytes(20_000, 5), blockSize: 8192 });
    const header = await readPayloadFileHeader(path);
    expect(header.dataOffset).toBe(built.dataOffset);
    expect(header.blockTable.blockCount).toBe(3);
    expect(header.dataSizeBytes).toBe(20_000);
    expect(header.signatures).toHaveLength(1);
  });
});
