// The streaming apply: payload bytes in, verified image blocks out onto a write target, resumable.
// applyPayload reads the resume point, runs one pass (ApplyRun), and starts over from the beginning
// when the resume point turns out not to fit the payload or the target.

import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import { silentLogger } from '../platform/logger.ts';
import { ApplyRun, ResumeInvalid } from './apply-run.ts';
import type { ApplyOptions, ApplyResult, ApplyRunOptions } from './apply-types.ts';
import type { ApplyCheckpoint } from './checkpoint-store.ts';
import type { OpenPayload } from './source.ts';

export type { ByteRange, OpenPayload } from './source.ts';
export { openFilePayload } from './file-source.ts';
export { FileCheckpointStore, type ApplyCheckpoint, type CheckpointStore } from './checkpoint-store.ts';
export type { ApplyOptions, ApplyProgress, ApplyResult, ApplyRunOptions } from './apply-types.ts';
export { FileSeedSource } from './seed-source.ts';

async function usableCheckpoint(options: ApplyRunOptions, logger: Logger): Promise<ApplyCheckpoint | undefined> {
  const cp = await options.checkpoint?.store.load();
  if (!cp) return undefined;
  if (cp.targetDescription !== options.target.description) {
    logger.info(
      { checkpointTarget: cp.targetDescription, target: options.target.description },
      'Resume point is for another target; starting from the beginning',
    );
    return undefined;
  }
  return cp;
}

/** One apply, resumed when a fitting resume point exists (used by applyPayload and verifyPayload). */
export async function runApply(open: OpenPayload, runOptions: ApplyRunOptions): Promise<ApplyResult> {
  let options = runOptions;
  const logger = options.logger ?? silentLogger();
  let checkpoint = await usableCheckpoint(options, logger);
  let fetchedBefore = 0;
  const warned = new Set<string>();
  for (;;) {
    const run = new ApplyRun(open, options, checkpoint, logger, fetchedBefore, warned);
    try {
      return await run.execute();
    } catch (e) {
      fetchedBefore += run.bytesFetched;
      if (e instanceof UpdateEngineError && e.code === 'ERR_DOWNLOAD_RANGE_IGNORED' && options.seed && options.delta !== false) {
        // The server answered a Range request with the whole file: one full stream instead (resumed
        // from what the delta pass made durable, if anything).
        logger.warn({ reason: e.message }, `The server ignores Range requests (${e.message}): fetching the whole payload instead of a delta`);
        options = { ...options, delta: false };
        checkpoint = await usableCheckpoint(options, logger);
        continue;
      }
      if (!(e instanceof ResumeInvalid)) throw e;
      logger.warn({ reason: e.message }, `Cannot resume (${e.message}); starting from the beginning`);
      await options.checkpoint?.store.clear();
      checkpoint = undefined;
    }
  }
}

/**
 * Streams a payload onto `options.target`: verifies the manifest's signature, app id, board, version
 * and size before opening the target, then writes each block only after its hash matched the signed
 * block table, and reads each block back after its sync to compare it with the verified bytes. A fresh apply asks `open` for
 * [{start: 0}]; a resumed one for [{start: 0, end: dataOffset}, {start: resumeOffset}].
 */
export function applyPayload(open: OpenPayload, options: ApplyOptions): Promise<ApplyResult> {
  return runApply(open, options);
}
