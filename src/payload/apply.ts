// The streaming apply: payload bytes in, verified image blocks out onto a write target, resumable.
// applyPayload reads the resume point, runs one pass (ApplyRun), and starts over from the beginning
// when the resume point turns out not to fit the payload or the target.

import type { Logger } from 'pino';
import type { WriteTarget } from '../io/write-target.ts';
import { silentLogger } from '../platform/logger.ts';
import { ApplyRun, ResumeInvalid } from './apply-run.ts';
import type { ApplyCheckpoint, CheckpointStore } from './checkpoint-store.ts';
import type { Keyring } from './keyring.ts';
import type { PayloadExpectation, PayloadManifest } from './manifest.ts';
import type { OpenPayload } from './source.ts';

export type { ByteRange, OpenPayload } from './source.ts';
export { openFilePayload } from './file-source.ts';
export { FileCheckpointStore, type ApplyCheckpoint, type CheckpointStore } from './checkpoint-store.ts';

export interface ApplyProgress {
  /** Re-verifying the blocks a previous run left on the target, or writing new ones. */
  phase: 'verifying-existing' | 'writing';
  blocksDone: number;
  blocksTotal: number;
  imageBytesDone: number;
  imageBytesTotal: number;
  /** Bytes received from the transport so far (this call). */
  payloadBytesFetched: number;
}

export interface ApplyOptions {
  /** Opened and closed by the apply; nothing is written to it before the manifest is verified. */
  target: WriteTarget;
  keyring: Keyring;
  /** The machine: app id, board, running version; refuse older or equal versions unless allowDowngrade. */
  expect: PayloadExpectation;
  /** Where the resume point lives; saved every `everyBlocks` synced blocks (default: every 64 MiB) and on abort. */
  checkpoint?: { store: CheckpointStore; everyBlocks?: number };
  onProgress?(progress: ApplyProgress): void;
  /** Abort: stop at a block boundary, sync, save the resume point, reject with ERR_ABORTED. */
  signal?: AbortSignal;
  logger?: Logger;
  /**
   * Read each block back from the target after its sync and compare it byte for byte with its verified
   * bytes, still in memory (default true). Without it, the verified bytes are hashed into the whole
   * image's SHA-256 instead and compared with the manifest (what `payload verify` does).
   */
  readBack?: boolean;
  /** Sync the target after this many bytes (default 4 MiB, at most a third of maxInFlightBytes); syncs overlap with the next writes. */
  syncEveryBytes?: number;
  /**
   * Runs after the manifest's signature, app id, board, version and size verified and before the
   * target is opened: the caller's last word before the first byte is written (it may throw to stop).
   */
  beforeWrite?(manifest: PayloadManifest): Promise<void>;
  /** Block memory of the apply (received, hashed, written, awaiting read-back), in bytes (default 12 MiB, at least 4 blocks). */
  maxInFlightBytes?: number;
}

export interface ApplyResult {
  manifest: PayloadManifest;
  /** Key id of the trusted key whose signature verified. */
  signedBy: string;
  /** Size of the whole payload file. */
  payloadSizeBytes: number;
  /**
   * SHA-256 (base64) of the whole payload file, to compare with the Omaha offer. Undefined after a
   * resume: the bytes before the resume point were not fetched again (docs/payload-format.md says why
   * the signed block table and the re-verification of the kept blocks keep the guarantee).
   */
  payloadSha256Base64: string | undefined;
  /**
   * SHA-256 (hex) of the image now on the target: the manifest's value, returned only once every block
   * on the target matched the signed block table (blocks written now: read back and compared byte for
   * byte with the bytes that matched their block hash; blocks kept from before: re-read and re-hashed).
   * Without read-back it was computed over the verified bytes and compared with the manifest.
   */
  imageSha256Hex: string;
  resumed: boolean;
  /** Bytes received from the transport, over all passes of this call. */
  payloadBytesFetched: number;
  /** Blocks written by this call (a resumed apply skips the ones already on the target). */
  blocksWritten: number;
}

/** Options of one pass; `expect` undefined = no app id / board / version checks (`payload verify`). */
export type ApplyRunOptions = Omit<ApplyOptions, 'expect'> & { expect: PayloadExpectation | undefined };

async function usableCheckpoint(options: ApplyRunOptions, logger: Logger): Promise<ApplyCheckpoint | undefined> {
  const cp = await options.checkpoint?.store.load();
  if (!cp) return undefined;
  if (cp.targetDescription !== options.target.description) {
    logger.info({ checkpointTarget: cp.targetDescription, target: options.target.description }, 'Resume point is for another target; starting from the beginning');
    return undefined;
  }
  return cp;
}

/** One apply, resumed when a fitting resume point exists (used by applyPayload and verifyPayload). */
export async function runApply(open: OpenPayload, options: ApplyRunOptions): Promise<ApplyResult> {
  const logger = options.logger ?? silentLogger();
  let checkpoint = await usableCheckpoint(options, logger);
  let fetchedBefore = 0;
  for (;;) {
    const run = new ApplyRun(open, options, checkpoint, logger, fetchedBefore);
    try {
      return await run.execute();
    } catch (e) {
      if (!(e instanceof ResumeInvalid)) throw e;
      fetchedBefore += run.bytesFetched;
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
