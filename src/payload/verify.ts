// Verifying a payload file without writing it anywhere (`update-engine payload verify`): the same pass
// as an apply (signature, layout, every block against the signed table, the whole image hash) into a
// target that discards the bytes, so that "verify" and "apply" can never disagree.

import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { runApply, type ApplyProgress, type ApplyResult } from './apply.ts';
import { openFilePayload } from './file-source.ts';
import type { Keyring } from './keyring.ts';
import type { PayloadExpectation } from './manifest.ts';

/** A write target that keeps nothing: for verification only. */
export class DiscardTarget implements WriteTarget {
  readonly description = 'verification only (nothing written)';
  readonly sizeBytes = Number.MAX_SAFE_INTEGER;
  async open(): Promise<void> {}
  async write(): Promise<void> {}
  async sync(): Promise<void> {}
  async read(): Promise<Buffer> {
    throw new UpdateEngineError('ERR_INTERNAL', 'Nothing can be read back from a verification-only target');
  }
  async close(): Promise<void> {}
}

export interface VerifyOptions {
  keyring: Keyring;
  /** Also check app id, board and version as an apply on that machine would. */
  expect?: PayloadExpectation;
  onProgress?(progress: ApplyProgress): void;
  signal?: AbortSignal;
  logger?: Logger;
}

/** Verifies a payload file completely; rejects with the apply's error codes. */
export function verifyPayloadFile(path: string, options: VerifyOptions): Promise<ApplyResult> {
  return runApply(openFilePayload(path), {
    target: new DiscardTarget(),
    keyring: options.keyring,
    expect: options.expect,
    readBack: false,
    onProgress: options.onProgress,
    signal: options.signal,
    logger: options.logger,
  });
}
