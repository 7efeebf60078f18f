// The file checkpoint store: atomic saves, loads, clears, and unusable files ignored with a warning.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileCheckpointStore, type ApplyCheckpoint } from '../../src/payload/checkpoint-store.ts';
import { tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('checkpoint-')));
afterAll(() => cleanup());

const CP: ApplyCheckpoint = {
  formatVersion: 1,
  manifestSha256: 'c'.repeat(64),
  targetDescription: '/dev/vda4',
  dataOffset: 4096,
  nextBlock: 12,
  resumeOffset: 4096 + 12 * 1048576,
  savedAt: '2026-01-01T00:00:00.000Z',
};

function warnings() {
  const list: string[] = [];
  return { list, logger: { warn: (_o: unknown, msg?: string) => void list.push(msg ?? '') } };
}

describe('FileCheckpointStore', () => {
  it('has nothing before the first save', async () => {
    expect(await new FileCheckpointStore(join(dir, 'none')).load()).toBeUndefined();
  });

  it('saves (creating STATE_DIR), loads, replaces and clears, leaving no temporary file', async () => {
    const stateDir = join(dir, 'a', 'state');
    const store = new FileCheckpointStore(stateDir);
    await store.save(CP);
    expect(await store.load()).toEqual(CP);
    await store.save({ ...CP, nextBlock: 20 });
    expect((await store.load())?.nextBlock).toBe(20);
    expect(await readdir(stateDir)).toEqual(['payload-checkpoint.json']);
    expect(JSON.parse(await readFile(join(stateDir, 'payload-checkpoint.json'), 'utf8'))).toEqual({ ...CP, nextBlock: 20 });
    await store.clear();
    expect(await store.load()).toBeUndefined();
    await store.clear();
  });

  it('ignores a damaged file with a warning', async () => {
    const stateDir = join(dir, 'damaged');
    await mkdir(stateDir);
    await writeFile(join(stateDir, 'payload-checkpoint.json'), '{"formatVersion": 1, "nextBl');
    const w = warnings();
    expect(await new FileCheckpointStore(stateDir, w.logger).load()).toBeUndefined();
    expect(w.list).toEqual([
      expect.stringMatching(new RegExp(`^Resume point "${join(stateDir, 'payload-checkpoint.json')}" is invalid \\(.*\\); starting from the beginning$`)),
    ]);
  });

  it('refuses a checkpoint of the wrong shape on save', async () => {
    await expect(new FileCheckpointStore(join(dir, 'shape')).save({ ...CP, nextBlock: -1 })).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_STATE' });
  });

  it('reports ERR_DOWNLOAD_STATE when STATE_DIR cannot be created', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    const store = new FileCheckpointStore(join(blocker, 'state'));
    await expect(store.save(CP)).rejects.toMatchObject({
      code: 'ERR_DOWNLOAD_STATE',
      message: expect.stringMatching(new RegExp(`^Cannot save the resume point "${join(blocker, 'state', 'payload-checkpoint.json')}": .*ENOTDIR`)),
    });
  });
});
