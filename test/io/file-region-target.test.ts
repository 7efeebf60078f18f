// FileRegionTarget: round trips inside a region of a file, bytes outside untouched, bounds, writev
// gathering, read-back, and clean errors (missing file, not open, ENOSPC on a small tmpfs as root).

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { writeErrorCode } from '../../src/io/positional-file-target.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { mountTmpfs } from '../helpers/tmpfs.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-io-region-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function caught(p: Promise<unknown>): Promise<UpdateEngineError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpdateEngineError);
  return e as UpdateEngineError;
}

describe('FileRegionTarget', () => {
  it('writes and reads back inside the region and leaves the rest of the file alone', async () => {
    const path = join(dir, 'disk.img');
    const outside = randomBytes(64 * 1024);
    await writeFile(path, outside);
    const t = new FileRegionTarget(path, 8192, 16384);
    expect(t.description).toBe(`${path} [+8192, 16384 bytes]`);
    await t.open();
    const a = randomBytes(10_000);
    const b = randomBytes(3000);
    const c = randomBytes(3384);
    await t.write(a, 0);
    await t.writev([b, c], 10_000);
    await t.sync();
    expect((await t.read(0, 16384)).equals(Buffer.concat([a, b, c]))).toBe(true);
    expect((await t.read(16000, 1000)).length).toBe(384); // clipped at the end of the region
    await t.close();
    const file = await readFile(path);
    expect(file.subarray(0, 8192).equals(outside.subarray(0, 8192))).toBe(true);
    expect(file.subarray(8192 + 16384).equals(outside.subarray(8192 + 16384))).toBe(true);
    expect(file.subarray(8192, 8192 + 16384).equals(Buffer.concat([a, b, c]))).toBe(true);
  });

  it("reads into a caller's buffer (reused for each read-back), clipped at the end of the region", async () => {
    const path = join(dir, 'read-into.img');
    const content = randomBytes(32 * 1024);
    await writeFile(path, content);
    const t = new FileRegionTarget(path, 4096, 16384);
    await t.open();
    const buffer = Buffer.alloc(6000);
    expect(await t.readInto(buffer, 1000)).toBe(6000);
    expect(buffer.equals(content.subarray(5096, 11096))).toBe(true);
    expect(await t.readInto(buffer, 12000)).toBe(4384);
    expect(buffer.subarray(0, 4384).equals(content.subarray(16096, 20480))).toBe(true);
    expect(await t.readInto(buffer, 16384)).toBe(0);
    await t.close();
  });

  it('refuses writes that would leave the region, before writing anything', async () => {
    const path = join(dir, 'bounds.img');
    await writeFile(path, Buffer.alloc(4096));
    const t = new FileRegionTarget(path, 1024, 1024);
    await t.open();
    const e = await caught(t.write(Buffer.alloc(10, 1), 1020));
    expect(e.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(e.message).toBe(`Write of 10 bytes at offset 1020 does not fit "${path} [+1024, 1024 bytes]" (1024 bytes)`);
    expect((await caught(t.writev([Buffer.alloc(600), Buffer.alloc(600)], 0))).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect((await caught(t.write(Buffer.alloc(1), -1))).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    await t.close();
    expect((await readFile(path)).every((x) => x === 0)).toBe(true);
  });

  it('says which target it cannot open, and that it is not open', async () => {
    const missing = join(dir, 'nope', 'disk.img');
    const t = new FileRegionTarget(missing, 0, 10);
    const e = await caught(t.open());
    expect(e.code).toBe('ERR_INSTALL_DEVICE');
    expect(e.message).toMatch(new RegExp(`^Cannot open write target "${missing}": ENOENT`));
    expect(() => new FileRegionTarget(missing, -1, 10)).toThrow(/Invalid file region/);
    await expect(t.write(Buffer.alloc(1), 0)).rejects.toThrow(/is not open/);
  });

  it('maps errno to codes: ENOSPC and quota to ERR_INSTALL_DEVICE_SPACE, the rest to ERR_DOWNLOAD_WRITE', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(writeErrorCode(err('ENOSPC'))).toBe('ERR_INSTALL_DEVICE_SPACE');
    expect(writeErrorCode(err('EDQUOT'))).toBe('ERR_INSTALL_DEVICE_SPACE');
    expect(writeErrorCode(err('EIO'))).toBe('ERR_DOWNLOAD_WRITE');
    expect(writeErrorCode(new Error('odd'))).toBe('ERR_DOWNLOAD_WRITE');
  });

  it('reports ENOSPC with the offset and the target when the file system fills up (tmpfs, root)', async () => {
    const mnt = join(dir, 'small');
    await mkdir(mnt);
    const tmpfs = mountTmpfs(mnt, 1024 * 1024);
    try {
      const path = join(mnt, 'disk.img');
      await writeFile(path, '');
      await truncate(path, 4 * 1024 * 1024); // sparse: the space runs out while writing
      const t = new FileRegionTarget(path, 0, 4 * 1024 * 1024);
      await t.open();
      const chunk = randomBytes(256 * 1024);
      let e: UpdateEngineError | undefined;
      try {
        for (let off = 0; off < 4 * 1024 * 1024; off += chunk.length) await t.write(chunk, off);
      } catch (err) {
        e = err as UpdateEngineError;
      } finally {
        await t.close();
      }
      expect(e?.code).toBe('ERR_INSTALL_DEVICE_SPACE');
      expect(e?.message).toMatch(new RegExp(`^Cannot write to "${path} \\[\\+0, 4194304 bytes\\]" at offset \\d+: ENOSPC`));
      const offset = Number(/at offset (\d+)/.exec(e?.message ?? '')?.[1]);
      expect(offset).toBeGreaterThan(512 * 1024);
      expect(offset).toBeLessThanOrEqual(1024 * 1024);
    } finally {
      tmpfs.unmount();
    }
  });
});
