// The archive writer: tar-stream layout, the data offset formula, atomic output, producer errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataOffsetOf, writePayloadArchive } from '../../src/payload/payload-writer.ts';
import { tarEntries, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('payload-writer-')));
afterAll(() => cleanup());

const parts = (data: Buffer[]) => ({
  manifestBytes: Buffer.from('m'.repeat(700)),
  signaturesBytes: Buffer.from('s'.repeat(512)),
  tableBytes: Buffer.from('t'.repeat(37)),
  dataSizeBytes: data.reduce((a, b) => a + b.byteLength, 0),
  writeData: async (sink: (b: Uint8Array) => Promise<void>) => {
    for (const d of data) await sink(d);
  },
});

describe('writePayloadArchive', () => {
  it('writes the four entries in order with the data where dataOffsetOf says', async () => {
    const out = join(dir, 'a.payload');
    const data = [Buffer.from('x'.repeat(1000)), Buffer.from('y'.repeat(3000))];
    const written = await writePayloadArchive(out, parts(data));
    const bytes = await readFile(out);
    expect(written.dataOffset).toBe(512 + 1024 + 512 + 512 + 512 + 512 + 512);
    expect(dataOffsetOf(parts(data))).toBe(written.dataOffset);
    expect(bytes.subarray(written.dataOffset, written.dataOffset + 4000).equals(Buffer.concat(data))).toBe(true);
    expect(written).toMatchObject({ sizeBytes: bytes.byteLength, sha256Base64: createHash('sha256').update(bytes).digest('base64') });
    expect((await tarEntries(out)).map((e) => [e.name, e.body?.byteLength])).toEqual([
      ['manifest.json', 700],
      ['signatures.json', 512],
      ['block-table.bin', 37],
      ['image-data.bin', 4000],
    ]);
  });

  it('leaves an existing file alone and no temporary file when the producer fails', async () => {
    const out = join(dir, 'b.payload');
    await writeFile(out, 'old');
    const failing = { ...parts([]), dataSizeBytes: 10, writeData: async () => Promise.reject(new Error('image vanished')) };
    await expect(writePayloadArchive(out, failing)).rejects.toMatchObject({
      code: 'ERR_INTERNAL',
      message: `Cannot write payload file "${out}": image vanished`,
    });
    expect(await readFile(out, 'utf8')).toBe('old');
    expect((await readdir(dir)).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('refuses a producer that writes more than announced', async () => {
    const out = join(dir, 'c.payload');
    await expect(writePayloadArchive(out, { ...parts([Buffer.alloc(10)]), dataSizeBytes: 5 })).rejects.toMatchObject({
      message: expect.stringContaining('Image data exceeds the 5 bytes announced'),
    });
  });
});
