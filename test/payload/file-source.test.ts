// openFilePayload: the requested ranges back to back, each chunk owning its memory, abortable.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFilePayload } from '../../src/payload/file-source.ts';
import { seededBytes, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
const data = seededBytes(50_000, 8);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('file-source-'));
  await writeFile(join(dir, 'p'), data);
});
afterAll(() => cleanup());

async function collect(ranges: Array<{ start: number; end?: number }>, chunkBytes = 4096) {
  const stream = await openFilePayload(join(dir, 'p'), chunkBytes)(ranges, new AbortController().signal);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return chunks;
}

describe('openFilePayload', () => {
  it('streams one range to the end of the file', async () => {
    const chunks = await collect([{ start: 0 }]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(chunks.every((c) => (c.byteOffset === 0 && c.buffer.byteLength === c.byteLength) || c.byteLength < 4096)).toBe(true);
  });

  it('concatenates ranges (header, then from the resume offset)', async () => {
    const got = Buffer.concat(await collect([{ start: 0, end: 1000 }, { start: 30_000 }], 1024));
    expect(got.equals(Buffer.concat([data.subarray(0, 1000), data.subarray(30_000)]))).toBe(true);
  });

  it('stops at the end of the file when a range goes past it', async () => {
    expect(Buffer.concat(await collect([{ start: 49_000, end: 60_000 }])).byteLength).toBe(1000);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const stream = await openFilePayload(join(dir, 'p'), 1024)([{ start: 0 }], controller.signal);
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    controller.abort(new Error('stop'));
    await expect(
      (async () => {
        for (;;) if ((await it.next()).done) return;
      })(),
    ).rejects.toThrow('stop');
  });

  it('refuses a bad range and a missing file', async () => {
    await expect(openFilePayload(join(dir, 'p'))([{ start: 10, end: 5 }], new AbortController().signal)).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
    const stream = await openFilePayload(join(dir, 'missing'))([{ start: 0 }], new AbortController().signal);
    await expect(stream.toArray()).rejects.toMatchObject({
      code: 'ERR_DOWNLOAD_TRANSFER',
      message: expect.stringContaining(`Cannot open payload file "${join(dir, 'missing')}"`),
    });
  });
});
