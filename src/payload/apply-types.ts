// The apply's options, progress and result: the types applyPayload (apply.ts) offers and one pass
// (apply-run.ts) uses, in a file of their own so that neither imports the other.

import type { Logger } from 'pino';
import type { WriteTarget } from '../io/write-target.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import type { Keyring } from './keyring.ts';
import type { PayloadExpectation, PayloadManifest } from './manifest.ts';
import type { SeedSource } from './seed-source.ts';

export interface ApplyProgress {
  /** Looking for the new image's chunks in the seed (a delta apply), re-verifying the blocks a previous run left on the target, or writing new ones. */
  phase: 'indexing-seed' | 'verifying-existing' | 'writing';
  blocksDone: number;
  blocksTotal: number;
  imageBytesDone: number;
  imageBytesTotal: number;
  /** Bytes received from the transport so far (this call). */
  payloadBytesFetched: number;
  /** Image bytes not fetched so far: copied from the seed or all-zero chunks (a delta apply; 0 otherwise). */
  bytesReused: number;
}

export interface ApplyOptions {
  /** Opened and closed by the apply; nothing is written to it before the manifest is verified. */
  target: WriteTarget;
  keyring: Keyring;
  /** The machine: app id, board, running version; refuse older or equal versions unless allowDowngrade. */
  expect: PayloadExpectation;
  /** Where the resume point lives; saved every `everyBlocks` synced blocks (default: every 64 MiB) and on abort. */
  checkpoint?: { store: CheckpointStore; everyBlocks?: number };
  onProgress?: ((progress: ApplyProgress) => void) | undefined;
  /** Abort: stop at a block boundary, sync, save the resume point, reject with ERR_ABORTED. */
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  /**
   * Read each block back from the target after its sync and compare it byte for byte with its verified
   * bytes, still in memory (default true). Without it, the verified bytes are hashed into the whole
   * image's SHA-256 instead and compared with the manifest (what `payload verify` does).
   */
  readBack?: boolean;
  /** Sync the target after this many bytes (default 4 MiB, at most a third of maxInFlightBytes); syncs overlap with the next writes. */
  syncEveryBytes?: number;
  /** Block memory of the apply (received, hashed, written, awaiting read-back), in bytes (default 8 MiB, at least 4 blocks). */
  maxInFlightBytes?: number;
  /**
   * Runs after the manifest's signature, app id, board, version and size verified and before the
   * target is opened: the caller's last word before the first byte is written (it may throw to stop).
   */
  beforeWrite?(manifest: PayloadManifest): Promise<void>;
  /**
   * Delta updates (issue 18): read-only bytes the machine has (the booted slot). With one, a format
   * version 2 payload is applied by copying the chunks found in it and fetching only the rest.
   */
  seed?: SeedSource | undefined;
  /** DELTA: false = always fetch the whole payload, even with a seed (default true). */
  delta?: boolean | undefined;
  /** IO_READ_BPS: the limit on reads of the seed, bytes/s; 0 or undefined = none. */
  readBytesPerSecond?: number | undefined;
  /** The payload's size when known (the offer's): a delta apply never asks for bytes past it. */
  payloadSizeBytes?: number | undefined;
}

export interface ApplyResult {
  manifest: PayloadManifest;
  /** Key id of the trusted key whose signature verified. */
  signedBy: string;
  /** Size of the whole payload file. */
  payloadSizeBytes: number;
  /**
   * SHA-256 (base64) of the whole payload file, to compare with the Omaha offer. Undefined after a
   * resume or a delta apply: the payload was not read whole (docs/payload-format.md says why
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
  /** Image bytes not fetched: copied from the seed, or all-zero chunks filled in memory (a delta apply; 0 otherwise). */
  bytesReused: number;
  /** True when this call applied a delta (blocks assembled from the seed and fetched ranges). */
  delta: boolean;
  /** Blocks a delta built from the seed that did not match the block table and were fetched whole (0 otherwise). */
  blocksRefetched: number;
  /** Blocks written by this call (a resumed apply skips the ones already on the target). */
  blocksWritten: number;
}

/** Options of one pass; `expect` undefined = no app id / board / version checks (`payload verify`). */
export type ApplyRunOptions = Omit<ApplyOptions, 'expect'> & { expect: PayloadExpectation | undefined };
