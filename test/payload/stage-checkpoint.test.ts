// The checkpoint stage: a resume point every N durable blocks and none at a successful end; when the
// pipeline fails, one at the last durable block before the failure is passed on; a save that fails is
// ERR_DOWNLOAD_STATE. resumePointSaver: what a resume point records, through the real file store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileCheckpointStore } from '../../src/payload/checkpoint-store.ts';
import type { PayloadHeader } from '../../src/payload/payload-header.ts';
import { CheckpointStage, resumePointSaver } from '../../src/payload/stage-checkpoint.ts';
import { tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('stage-checkpoint-')));
afterAll(async () => cleanup());

async function* durable(marks: number[], failure?: Error): AsyncGenerator<number> {
  yield* marks;
  if (failure) throw failure;
}

describe('CheckpointStage', () => {
  it('saves every N durable blocks and not at the end', async () => {
    const saved: number[] = [];
    const stage = new CheckpointStage({ firstBlock: 2, everyBlocks: 4, save: async (n) => void saved.push(n) });
    await stage.consume(durable([4, 6, 7, 11, 12, 13]));
    expect(saved).toEqual([6, 11]);
    expect(stage.durable).toBe(13);
  });

  it('when the pipeline fails: saves at the last durable block, then passes the failure on', async () => {
    const saved: number[] = [];
    const stage = new CheckpointStage({ firstBlock: 0, everyBlocks: 4, save: async (n) => void saved.push(n) });
    await expect(stage.consume(durable([4, 6], new Error('transport reset')))).rejects.toThrow('transport reset');
    expect(saved).toEqual([4, 6]);
    expect(stage.durable).toBe(6);
  });

  it('without a store it only counts', async () => {
    const stage = new CheckpointStage({ firstBlock: 0, everyBlocks: 1 });
    await expect(stage.consume(durable([3], new Error('x')))).rejects.toThrow('x');
    expect(stage.durable).toBe(3);
  });

  it('a save that fails: ERR_DOWNLOAD_STATE, reported at once', async () => {
    const failures: unknown[] = [];
    const stage = new CheckpointStage({
      firstBlock: 0,
      everyBlocks: 2,
      save: () => Promise.reject(new Error('EROFS: read-only file system')),
      onFailure: (e) => failures.push(e),
    });
    await expect(stage.consume(durable([2, 4]))).rejects.toMatchObject({
      code: 'ERR_DOWNLOAD_STATE',
      message: 'Cannot save the resume point: EROFS: read-only file system',
    });
    expect(failures).toHaveLength(1);
  });
});

describe('resumePointSaver', () => {
  it('records the payload, the target and where block N starts in the payload', async () => {
    const store = new FileCheckpointStore(join(dir, 'state'));
    const header = { manifestSha256Hex: 'a'.repeat(64), dataOffset: 3072, blockTable: { storedOffsets: [0, 100, 250, 400] } } as unknown as PayloadHeader;
    await resumePointSaver(store, header, '/dev/vda4')(2);
    expect(await store.load()).toMatchObject({
      formatVersion: 1,
      manifestSha256: 'a'.repeat(64),
      targetDescription: '/dev/vda4',
      dataOffset: 3072,
      nextBlock: 2,
      resumeOffset: 3072 + 250,
    });
  });
});
