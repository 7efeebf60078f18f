// Stage 6, checkpoint: the end of the pipeline. Records how far the target is durable and saves the
// resume point every N blocks; when the pipeline fails or is aborted, saves it at the last durable
// block before passing the failure on, so that a later apply resumes there. None after success.

import { wrapError } from '../errors.ts';
import type { ApplyCheckpoint, CheckpointStore } from './checkpoint-store.ts';
import type { PayloadHeader } from './payload-header.ts';

export interface CheckpointOptions {
  /** The first block this apply writes (the blocks before it are on the target already). */
  firstBlock: number;
  everyBlocks: number;
  /** Persists "blocks [0, nextBlock) are on the target and durable"; no resume points without it. */
  save?(nextBlock: number): Promise<void>;
  onFailure?(error: unknown): void;
}

export class CheckpointStage {
  /** Blocks [0, durable) are on the target and durable (synced). */
  durable: number;
  private saved: number;
  /** Saves run one after the other, beside the pipeline: a slow fsync of the state file never holds it up. */
  private saving: Promise<void> = Promise.resolve();
  private saveFailure: Error | undefined;

  constructor(private readonly o: CheckpointOptions) {
    this.durable = this.saved = o.firstBlock;
  }

  private saveAt(nextBlock: number): void {
    const save = this.o.save;
    if (!save || nextBlock <= this.saved) return;
    this.saved = nextBlock;
    this.saving = this.saving
      .then(() => save(nextBlock))
      .catch((e: unknown) => {
        if (this.saveFailure) return;
        this.saveFailure = wrapError(e, 'ERR_DOWNLOAD_STATE', 'Cannot save the resume point');
        this.o.onFailure?.(this.saveFailure);
      });
  }

  /** Runs the pipeline to its end: resolves when every block is durable, rejects with its failure. */
  async consume(durableUpTo: AsyncIterable<number>): Promise<void> {
    try {
      for await (const upTo of durableUpTo) {
        if (this.saveFailure) throw this.saveFailure;
        this.durable = upTo;
        if (upTo - this.saved >= this.o.everyBlocks) this.saveAt(upTo);
      }
      await this.saving;
    } catch (e) {
      this.saveAt(this.durable);
      await this.saving;
      throw e;
    }
    if (this.saveFailure) throw this.saveFailure;
  }
}

/** The saver for one apply: the resume point names the payload (manifest hash), the target and the block. */
export function resumePointSaver(store: CheckpointStore, header: PayloadHeader, targetDescription: string): (nextBlock: number) => Promise<void> {
  return (nextBlock) => {
    const point: ApplyCheckpoint = {
      formatVersion: 1,
      manifestSha256: header.manifestSha256Hex,
      targetDescription,
      dataOffset: header.dataOffset,
      nextBlock,
      resumeOffset: header.dataOffset + (header.blockTable.storedOffsets[nextBlock] ?? 0),
      savedAt: new Date().toISOString(),
    };
    return store.save(point);
  };
}
