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

  constructor(private readonly o: CheckpointOptions) {
    this.durable = this.saved = o.firstBlock;
  }

  private async saveAt(nextBlock: number): Promise<void> {
    if (!this.o.save || nextBlock <= this.saved) return;
    this.saved = nextBlock;
    try {
      await this.o.save(nextBlock);
    } catch (e) {
      const error = wrapError(e, 'ERR_DOWNLOAD_STATE', 'Cannot save the resume point');
      this.o.onFailure?.(error);
      throw error;
    }
  }

  /** Runs the pipeline to its end: resolves when every block is durable, rejects with its failure. */
  async consume(durableUpTo: AsyncIterable<number>): Promise<void> {
    try {
      for await (const upTo of durableUpTo) {
        this.durable = upTo;
        if (upTo - this.saved >= this.o.everyBlocks) await this.saveAt(upTo);
      }
    } catch (e) {
      await this.saveAt(this.durable).catch(() => undefined);
      throw e;
    }
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
