// Verifying a payload file without writing it anywhere (`update-engine payload verify`): the same pass
// as an apply (signature, layout, every block against the signed table, the whole image hash) into a
// target that discards the bytes, so that "verify" and "apply" can never disagree; then, for format
// version 2, every chunk against the chunk index.

import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import type { WriteTarget } from '../io/write-target.ts';
import { runApply, type ApplyProgress, type ApplyResult } from './apply.ts';
import { decodeBlock } from './block-codec.ts';
import { ByteReader } from './byte-reader.ts';
import { ChunkIndexChecker } from './chunk-index.ts';
import { openFilePayload } from './file-source.ts';
import { readPayloadFileHeader } from './inspect.ts';
import { imageBlockLength } from './manifest.ts';
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

/**
 * formatVersion 2: every chunk of the image data against its hash in the chunk index (the index's
 * SHA-256 and its tiling were checked with the header). Run after the blocks verified.
 */
async function checkChunkHashes(path: string, signal: AbortSignal | undefined): Promise<void> {
  const header = await readPayloadFileHeader(path);
  if (!header.chunkIndex) return;
  const { manifest, blockTable } = header;
  const checker = new ChunkIndexChecker(header.chunkIndex);
  const controller = new AbortController();
  const stream = await openFilePayload(path)([{ start: header.dataOffset, end: header.dataOffset + header.dataSizeBytes }], signal ?? controller.signal);
  const reader = new ByteReader(stream);
  try {
    for (let i = 0; i < manifest.blockCount; i++) {
      const stored = await reader.read(blockTable.storedLengths[i] ?? 0, `block ${i}`);
      checker.push(await decodeBlock(manifest.compression, stored, imageBlockLength(manifest, i), i));
    }
    checker.finish();
  } finally {
    controller.abort();
    await reader.cancel();
    stream.destroy();
  }
}

/** Verifies a payload file completely; rejects with the apply's error codes. */
export async function verifyPayloadFile(path: string, options: VerifyOptions): Promise<ApplyResult> {
  const result = await verifyBlocks(path, options);
  await checkChunkHashes(path, options.signal);
  return result;
}

function verifyBlocks(path: string, options: VerifyOptions): Promise<ApplyResult> {
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
