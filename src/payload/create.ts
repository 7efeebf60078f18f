// createPayload: image file in, signed payload out, streaming in two passes with bounded memory.
// Pass 1 hashes each block and the whole image (and learns each block's compressed length); the
// manifest is then signed; pass 2 writes the archive, re-checking every block against pass 1.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { silentLogger } from '../platform/logger.ts';
import { encodeBlockTable } from './block-table.ts';
import { ChunkIndexBuilder, MAGIC_PROBE_BYTES, schemeFromMagic } from './chunk-index.ts';
import { compressBlock } from './block-codec.ts';
import { BlockPool } from './block-pool.ts';
import { HashPool } from './hash-pool.ts';
import {
  DEFAULT_BLOCK_SIZE_BYTES,
  manifestSchema,
  MAX_BLOCK_COUNT,
  PAYLOAD_FORMAT_VERSION,
  serializeManifest,
  type ChunkScheme,
  type Compression,
  type PayloadManifest,
} from './manifest.ts';
import { writePayloadArchive, type DataSink } from './payload-writer.ts';
import { makeSignatures, type PayloadSigner } from './signers.ts';
import { serializeSignatures } from './signature.ts';

export type { PayloadSigner } from './signers.ts';

export interface CreatePayloadOptions {
  imagePath: string;
  out: string;
  version: string;
  /** Sign with these private keys (PEM). */
  privateKeyPem?: string | readonly string[];
  /** Sign with these signers (an HSM or KMS behind a function). */
  signer?: PayloadSigner | readonly PayloadSigner[];
  /** Write a payload without signatures, to be signed elsewhere (payload manifest / attach-signature). */
  unsigned?: boolean;
  blockSizeBytes?: number | undefined;
  compression?: Compression;
  /**
   * The chunk index for delta updates: 'auto' (default: fixed-4k for ext2/3/4, erofs and btrfs with 4 KiB
   * blocks, FastCDC otherwise), a scheme, or 'none' (a formatVersion 1 payload, for engines from before v2).
   */
  chunking?: ChunkingChoice | undefined;
  appId?: string | undefined;
  board?: string | undefined;
  /** Build time written into the signed manifest (Unix seconds); default SOURCE_DATE_EPOCH, else now; null = none (for engines older than issue 14). */
  buildTimeSeconds?: number | null | undefined;
  logger?: Logger;
}

export const CHUNKING_CHOICES = ['auto', 'fixed-4k', 'fastcdc', 'none'] as const;
export type ChunkingChoice = (typeof CHUNKING_CHOICES)[number];

/** The scheme a choice means for this image (undefined: no chunk index, formatVersion 1). */
async function chunkSchemeFor(choice: ChunkingChoice, fh: FileHandle): Promise<ChunkScheme | undefined> {
  switch (choice) {
    case 'none':
      return undefined;
    case 'fixed-4k':
      return 'fixed-4k';
    case 'fastcdc':
      return 'fastcdc-4k-16k-64k';
    case 'auto': {
      const head = Buffer.alloc(MAGIC_PROBE_BYTES);
      const { bytesRead } = await fh.read(head, 0, head.byteLength, 0);
      return schemeFromMagic(head.subarray(0, bytesRead));
    }
  }
}

/** Reproducible builds set SOURCE_DATE_EPOCH; otherwise the build time is now. */
function defaultBuildTimeSeconds(): number {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) : Math.floor(Date.now() / 1000);
}

export interface CreatePayloadResult {
  manifest: PayloadManifest;
  manifestBytes: Buffer;
  signatureKeyIds: string[];
  payloadSizeBytes: number;
  payloadSha256Base64: string;
  dataOffset: number;
}

const IN_FLIGHT_BLOCKS = 8;

async function readBlock(fh: FileHandle, into: Buffer, position: number, path: string): Promise<number> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await fh.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  if (done === 0 && position === 0) throw new UpdateEngineError('ERR_USAGE', `Image "${path}" is empty`);
  return done;
}

interface Scan {
  imageSize: number;
  imageSha256: string;
  hashes: Buffer[];
  storedLengths: number[];
  /** The chunk index, when a scheme was given. */
  chunks: { bytes: Buffer; count: number } | undefined;
}

/** Pass 1: per-block hashes, whole-image hash, stored lengths. Reads until the end of the file. */
async function scanImage(
  fh: FileHandle,
  path: string,
  blockSize: number,
  compression: Compression,
  scheme: ChunkScheme | undefined,
  pool: HashPool,
): Promise<Scan> {
  const chunkIndex = scheme ? new ChunkIndexBuilder(scheme) : undefined;
  const buffers = new BlockPool(IN_FLIGHT_BLOCKS, blockSize);
  const imageHash = pool.stream(0);
  const hashes: Buffer[] = [];
  const storedLengths: number[] = [];
  const jobs: Array<Promise<void>> = [];
  let size = 0;
  for (let index = 0; ; index++) {
    const lease = await buffers.acquire();
    let n: number;
    try {
      n = await readBlock(fh, lease.memory, size, path);
    } catch (e) {
      lease.release();
      throw e;
    }
    if (n === 0) {
      lease.release();
      break;
    }
    if (index >= MAX_BLOCK_COUNT) {
      lease.release();
      throw new UpdateEngineError('ERR_USAGE', `Image "${path}" has more than ${MAX_BLOCK_COUNT} blocks of ${blockSize} bytes: use a larger --block-size`);
    }
    size += n;
    const view = lease.memory.subarray(0, n);
    chunkIndex?.push(view);
    // One job owns the lease: the image hash (in order), the block hash and the compression all read it.
    const work = [
      imageHash.update(view),
      pool.hashOnce(view),
      compression === 'none' ? Promise.resolve(n) : compressBlock(compression, view).then((b) => b.byteLength),
    ] as const;
    const job = Promise.allSettled(work).then(async () => {
      lease.release();
      const [, digest, stored] = await Promise.all(work);
      hashes[index] = digest;
      storedLengths[index] = stored;
    });
    job.catch(() => undefined); // awaited below
    jobs.push(job);
    if (n < blockSize) break;
  }
  await Promise.all(jobs);
  return { imageSize: size, imageSha256: (await imageHash.digest()).toString('hex'), hashes, storedLengths, chunks: chunkIndex?.finish() };
}

/** Pass 2: streams the stored blocks, checking each against pass 1 (the image must not change meanwhile). */
async function streamBlocks(fh: FileHandle, path: string, m: PayloadManifest, scan: Scan, pool: HashPool, sink: DataSink): Promise<void> {
  for (let index = 0; index < m.blockCount; index++) {
    const length = Math.min(m.blockSize, m.imageSize - index * m.blockSize);
    const block = Buffer.allocUnsafe(length);
    const n = await readBlock(fh, block, index * m.blockSize, path);
    const [digest, stored] = await Promise.all([pool.hashOnce(block), m.compression === 'none' ? Promise.resolve(block) : compressBlock(m.compression, block)]);
    if (n !== length || !digest.equals(scan.hashes[index] as Buffer) || stored.byteLength !== scan.storedLengths[index]) {
      throw new UpdateEngineError('ERR_USAGE', `Image "${path}" changed while the payload was being written (block ${index})`);
    }
    await sink(stored);
  }
}

/** Creates a payload file from an image file; signs it unless `unsigned`. */
export async function createPayload(options: CreatePayloadOptions): Promise<CreatePayloadResult> {
  const logger = options.logger ?? silentLogger();
  const blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_SIZE_BYTES;
  const compression = options.compression ?? 'none';
  const hasKeys = options.privateKeyPem !== undefined || options.signer !== undefined;
  if (!hasKeys && !options.unsigned)
    throw new UpdateEngineError('ERR_USAGE', 'A payload needs a private key or a signer (or unsigned: true, to be signed elsewhere)');
  let fh: FileHandle;
  try {
    fh = await open(options.imagePath, 'r');
  } catch (e) {
    throw wrapError(e, 'ERR_USAGE', `Cannot open image "${options.imagePath}"`);
  }
  const pool = new HashPool(2);
  try {
    const scheme = await chunkSchemeFor(options.chunking ?? 'auto', fh);
    const scan = await scanImage(fh, options.imagePath, blockSize, compression, scheme, pool);
    const tableBytes = encodeBlockTable(scan.hashes, scan.storedLengths);
    const { chunks } = scan;
    const candidate = {
      formatVersion: chunks ? PAYLOAD_FORMAT_VERSION : 1,
      version: options.version,
      ...(options.appId !== undefined && { appId: options.appId }),
      ...(options.board !== undefined && { board: options.board }),
      ...(options.buildTimeSeconds !== null && { buildTimeSeconds: options.buildTimeSeconds ?? defaultBuildTimeSeconds() }),
      imageSize: scan.imageSize,
      blockSize,
      blockCount: scan.hashes.length,
      compression,
      imageSha256: scan.imageSha256,
      blockTableSha256: createHash('sha256').update(tableBytes).digest('hex'),
      ...(chunks && {
        chunkScheme: scheme,
        chunkCount: chunks.count,
        chunkIndexSha256: createHash('sha256').update(chunks.bytes).digest('hex'),
      }),
    };
    const checked = manifestSchema.safeParse(candidate);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new UpdateEngineError('ERR_USAGE', `Cannot create the payload: ${issue?.path.join('.') ?? 'manifest'}: ${issue?.message ?? 'invalid'}`);
    }
    const manifest = checked.data;
    const manifestBytes = serializeManifest(manifest);
    const signatures = await makeSignatures(manifestBytes, options.privateKeyPem, options.signer);
    const written = await writePayloadArchive(options.out, {
      manifestBytes,
      signaturesBytes: serializeSignatures(signatures),
      tableBytes,
      chunkIndexBytes: chunks?.bytes,
      dataSizeBytes: scan.storedLengths.reduce((a, b) => a + b, 0),
      writeData: (sink) => streamBlocks(fh, options.imagePath, manifest, scan, pool, sink),
    });
    logger.info({ out: options.out, version: manifest.version, sizeBytes: written.sizeBytes }, `Payload "${options.out}" written`);
    return {
      manifest,
      manifestBytes,
      signatureKeyIds: signatures.map((s) => s.keyId),
      payloadSizeBytes: written.sizeBytes,
      payloadSha256Base64: written.sha256Base64,
      dataOffset: written.dataOffset,
    };
  } finally {
    await fh.close();
    await pool.close();
  }
}
