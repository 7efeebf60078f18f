// Resume points of an interrupted apply: the CheckpointStore port and its file adapter in STATE_DIR
// (write to a temporary file, fsync, rename over the old one, fsync the directory).

import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { wrapError } from '../errors.ts';
import { createExclusive, tempPathFor } from '../platform/temp-file.ts';

const checkpointSchema = z.strictObject({
  formatVersion: z.literal(1),
  /** SHA-256 (hex) of the manifest bytes: the payload content this resume point belongs to. */
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The write target's description: a checkpoint never moves to another slot. */
  targetDescription: z.string(),
  /** Payload offset of the first image data byte (the header region is [0, dataOffset)). */
  dataOffset: z.number().int().min(0),
  /** Blocks [0, nextBlock) were written and synced to the target before this was saved. */
  nextBlock: z.number().int().min(0),
  /** Payload offset where block nextBlock's stored bytes start. */
  resumeOffset: z.number().int().min(0),
  /** When it was saved (ISO 8601), for logs. */
  savedAt: z.string(),
});

export type ApplyCheckpoint = z.infer<typeof checkpointSchema>;

/** Where an apply keeps its resume point. load() returns undefined when there is none (or it is unusable). */
export interface CheckpointStore {
  load(): Promise<ApplyCheckpoint | undefined>;
  save(checkpoint: ApplyCheckpoint): Promise<void>;
  clear(): Promise<void>;
}

export const CHECKPOINT_FILE_NAME = 'payload-checkpoint.json';

export class FileCheckpointStore implements CheckpointStore {
  readonly path: string;

  constructor(
    readonly stateDir: string,
    private readonly logger?: Pick<Logger, 'warn'>,
    fileName = CHECKPOINT_FILE_NAME,
  ) {
    this.path = join(stateDir, fileName);
  }

  /** An unreadable or invalid file is logged and ignored: the apply then starts from the beginning. */
  async load(): Promise<ApplyCheckpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.logger?.warn({ path: this.path, err: e }, `Cannot read the resume point "${this.path}"; starting from the beginning`);
      return undefined;
    }
    try {
      return checkpointSchema.parse(JSON.parse(text));
    } catch (e) {
      this.logger?.warn({ path: this.path }, `Resume point "${this.path}" is invalid (${(e as Error).message.split('\n')[0]}); starting from the beginning`);
      return undefined;
    }
  }

  async save(checkpoint: ApplyCheckpoint): Promise<void> {
    const tmp = tempPathFor(this.path);
    try {
      await mkdir(this.stateDir, { recursive: true });
      const fh = await createExclusive(tmp, 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(checkpointSchema.parse(checkpoint))}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      const dir = await open(this.stateDir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw wrapError(e, 'ERR_DOWNLOAD_STATE', `Cannot save the resume point "${this.path}"`);
    }
  }

  async clear(): Promise<void> {
    try {
      await rm(this.path, { force: true });
    } catch (e) {
      throw wrapError(e, 'ERR_DOWNLOAD_STATE', `Cannot remove the resume point "${this.path}"`);
    }
  }
}
