// One pass of the streaming apply: header (verified before the target is opened), re-verification of
// the blocks kept from a previous run, then per block: read into a shared-memory slot, payload hash
// and block hash on worker threads (in place), compare with the signed table, and only then write.

import type { Logger } from 'pino';
import { UpdateEngineError, wrapError } from '../errors.ts';
import type { ApplyResult, ApplyRunOptions } from './apply.ts';
import { BlockSlots, type BlockSlot } from './block-slots.ts';
import { blockHash, maxStoredBlockBytes } from './block-table.ts';
import { decodeBlock } from './block-codec.ts';
import { BlockWriter } from './block-writer.ts';
import { ByteReader } from './byte-reader.ts';
import type { ApplyCheckpoint } from './checkpoint-store.ts';
import { findChangedBlock } from './existing-blocks.ts';
import { HashPool, type WorkerHashStream } from './hash-pool.ts';
import { checkExpectation, checkFits, imageBlockLength, parseManifest, type PayloadManifest } from './manifest.ts';
import { readPayloadHeader, readPayloadTrailer, type PayloadHeader, type RawSignature } from './payload-header.ts';
import type { OpenPayload } from './source.ts';
import { verifyManifestSignatures } from './verify-signatures.ts';
import { planMemory } from './apply-memory.ts';
import { YoungGarbageCollector } from './young-garbage.ts';

/** Transport chunks dropped between two young-generation collections. */
const GARBAGE_EVERY_BYTES = 2 * 1024 * 1024;

/** The resume point does not fit this payload or target: start over (not an error of the payload). */
export class ResumeInvalid extends Error {}

interface BlockContext {
  manifest: PayloadManifest;
  header: PayloadHeader;
  writer: BlockWriter;
  hashes: HashPool;
  /** Without read-back: the whole image's hash over the verified bytes, fed in block order. */
  imageHash: WorkerHashStream | undefined;
}

export class ApplyRun {
  private readonly controller = new AbortController();
  private failure: Error | undefined;
  private reader: ByteReader | undefined;
  private signedBy = '';
  private imageChain: Promise<void> = Promise.resolve();
  /** Blocks read from the stream and not yet handed to the writer (or dropped). */
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly open: OpenPayload,
    private readonly o: ApplyRunOptions,
    private readonly checkpoint: ApplyCheckpoint | undefined,
    private readonly logger: Logger,
    private readonly fetchedBefore: number,
  ) {}

  get bytesFetched(): number {
    return this.reader?.bytesRead ?? 0;
  }

  /** Records the first failure and stops the transport, so that a pending read returns. */
  private readonly fail = (e: unknown): void => {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.controller.abort(this.failure);
  };

  private accept(manifestBytes: Buffer, signatures: RawSignature[]): PayloadManifest {
    const verdict = verifyManifestSignatures(manifestBytes, signatures, this.o.keyring);
    const manifest = parseManifest(manifestBytes);
    if (this.o.expect) {
      const notes = checkExpectation(manifest, this.o.expect);
      if (notes.downgradeAllowed) this.logger.warn({ version: manifest.version, running: this.o.expect.runningVersion }, `ALLOW_DOWNGRADE: applying version "${manifest.version}", which is not newer than the running "${this.o.expect.runningVersion}"`);
      if (notes.versionUnchecked) this.logger.warn({ version: manifest.version }, 'The running version is unknown: the payload version was not compared');
    }
    checkFits(manifest, this.o.target.sizeBytes, this.o.target.description);
    this.signedBy = verdict.keyId;
    this.logger.info({ version: manifest.version, keyId: verdict.keyId, imageSize: manifest.imageSize }, `Payload manifest verified (signed by key "${verdict.keyId}")`);
    return manifest;
  }

  private checkResume(header: PayloadHeader, cp: ApplyCheckpoint): void {
    const { blockTable } = header;
    if (cp.manifestSha256 !== header.manifestSha256Hex) throw new ResumeInvalid('the resume point is for another payload');
    if (cp.dataOffset !== header.dataOffset) throw new ResumeInvalid(`the image data starts at ${header.dataOffset}, the resume point says ${cp.dataOffset}`);
    if (cp.nextBlock > blockTable.blockCount || cp.resumeOffset !== header.dataOffset + (blockTable.storedOffsets[cp.nextBlock] ?? -1)) {
      throw new ResumeInvalid(`resume offset ${cp.resumeOffset} is not the start of block ${cp.nextBlock}`);
    }
  }

  /** Watches a hash update: a failed one fails the apply. */
  private track(hashed: Promise<void>): void {
    hashed.catch(this.fail);
  }

  async execute(): Promise<ApplyResult> {
    const userSignal = this.o.signal;
    userSignal?.throwIfAborted();
    const onUserAbort = () => this.controller.abort(userSignal?.reason);
    userSignal?.addEventListener('abort', onUserAbort, { once: true });
    const cp = this.checkpoint;
    const hashes = new HashPool(2);
    let writer: BlockWriter | undefined;
    let targetOpen = false;
    let stream: Awaited<ReturnType<OpenPayload>> | undefined;
    try {
      stream = await this.open(cp ? [{ start: 0, end: cp.dataOffset }, { start: cp.resumeOffset }] : [{ start: 0 }], this.controller.signal);
      // The payload file's hash: header and trailer bytes as they are read, each block from its slot.
      const payloadHash = cp ? undefined : hashes.stream(0);
      const garbage = new YoungGarbageCollector(GARBAGE_EVERY_BYTES);
      const reader = (this.reader = new ByteReader(stream, {
        ...(payloadHash && { onReturned: (bytes: Buffer) => this.track(payloadHash.update(bytes)) }),
        onChunkUsed: (n) => garbage.dropped(n),
        signal: this.controller.signal,
      }));
      const header = await readPayloadHeader(reader, { accept: (bytes, sigs) => this.accept(bytes, sigs) });
      const { manifest, blockTable } = header;
      if (cp) {
        this.checkResume(header, cp);
        reader.jumpTo(cp.resumeOffset);
      }
      await this.o.beforeWrite?.(manifest);
      await this.o.target.open();
      targetOpen = true;
      const readBack = this.o.readBack ?? true;
      const imageHash = readBack ? undefined : hashes.stream(1);
      const plan = planMemory(manifest, maxStoredBlockBytes(manifest.compression, manifest.blockSize), this.o);
      const slots = new BlockSlots(plan.slotCount, plan.slotBytes);
      const firstBlock = cp?.nextBlock ?? 0;
      const progress = (phase: 'verifying-existing' | 'writing', blocksDone: number) =>
        this.o.onProgress?.({
          phase,
          blocksDone,
          blocksTotal: manifest.blockCount,
          imageBytesDone: Math.min(manifest.imageSize, blocksDone * manifest.blockSize),
          imageBytesTotal: manifest.imageSize,
          payloadBytesFetched: this.fetchedBefore + reader.bytesRead,
        });
      if (cp && firstBlock > 0) {
        const changed = await findChangedBlock({ target: this.o.target, manifest, table: blockTable, count: firstBlock, hashes, imageHash, slots, signal: this.controller.signal, onProgress: (n) => progress('verifying-existing', n) });
        if (changed !== undefined) throw new ResumeInvalid(`block ${changed} on "${this.o.target.description}" differs from the block table`);
        this.logger.info({ blocks: firstBlock, resumeOffset: cp.resumeOffset }, `Resuming at block ${firstBlock} of ${manifest.blockCount}`);
      }
      const store = this.o.checkpoint?.store;
      writer = new BlockWriter(
        {
          target: this.o.target,
          blockSizeBytes: manifest.blockSize,
          blockCount: manifest.blockCount,
          imageSizeBytes: manifest.imageSize,
          firstBlock,
          syncEveryBlocks: plan.syncEveryBlocks,
          readBack,
          // Bytes fetched beyond the last resume point are the interval plus the blocks held in slots
          // (and a little in the transport): saving that much more often keeps what a kill (SIGKILL,
          // power cut) makes the next start fetch again under one interval plus the header.
          checkpointEveryBlocks: Math.max(1, (this.o.checkpoint?.everyBlocks ?? plan.checkpointEveryBlocks) - plan.slotCount - 1),
          onWritten: (n) => progress('writing', n),
          ...(store && {
            saveCheckpoint: (nextBlock: number) =>
              store.save({
                formatVersion: 1,
                manifestSha256: header.manifestSha256Hex,
                targetDescription: this.o.target.description,
                dataOffset: header.dataOffset,
                nextBlock,
                resumeOffset: header.dataOffset + (blockTable.storedOffsets[nextBlock] ?? 0),
                savedAt: new Date().toISOString(),
              }),
          }),
        },
        this.fail,
      );
      const ctx: BlockContext = { manifest, header, writer, hashes, imageHash };
      for (let i = firstBlock; i < manifest.blockCount; i++) {
        if (this.failure) throw this.failure;
        userSignal?.throwIfAborted();
        if (slots.exhausted) writer.requestSync(); // the read-back holds the slots until their blocks are synced
        const slot = await slots.acquire(this.controller.signal);
        const stored = blockTable.storedLengths[i] ?? 0;
        try {
          await reader.readInto(slot.memory, stored, `block ${i}`);
        } catch (e) {
          slot.release();
          throw e;
        }
        const storedView = slot.memory.subarray(0, stored);
        if (payloadHash) {
          slot.hold();
          this.track(payloadHash.update(storedView).finally(() => slot.release()));
        }
        const job = this.processBlock(i, storedView, slot, ctx);
        this.inflight.add(job);
        void job.finally(() => this.inflight.delete(job));
      }
      await readPayloadTrailer(reader, header.dataSizeBytes);
      await Promise.all(this.inflight);
      if (this.failure) throw this.failure;
      userSignal?.throwIfAborted(); // every block is written; the final sync and read-back are left to a resumed run
      await writer.finish();
      await this.imageChain;
      if (this.failure) throw this.failure;
      if (imageHash) {
        const imageSha256Hex = (await imageHash.digest()).toString('hex');
        if (imageSha256Hex !== manifest.imageSha256) {
          throw new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', `Image SHA-256 from the payload is ${imageSha256Hex}, the manifest says ${manifest.imageSha256}`);
        }
      }
      const payloadSha256Base64 = payloadHash ? (await payloadHash.digest()).toString('base64') : undefined;
      await store?.clear();
      return {
        manifest,
        signedBy: this.signedBy,
        payloadSizeBytes: reader.offset,
        payloadSha256Base64,
        // Every block on the target matched the signed block table: the image is the manifest's.
        imageSha256Hex: manifest.imageSha256,
        resumed: cp !== undefined,
        payloadBytesFetched: this.fetchedBefore + reader.bytesRead,
        blocksWritten: manifest.blockCount - firstBlock,
      };
    } catch (e) {
      if (e instanceof ResumeInvalid) throw e;
      const aborted = userSignal?.aborted === true && this.failure === undefined;
      this.controller.abort(); // the transport stops; blocks already received and verified are still written
      await Promise.allSettled([...this.inflight]);
      await this.imageChain;
      const durable = writer ? await writer.stop() : undefined;
      const root = this.failure ?? e;
      if (aborted) {
        const where = durable === undefined ? 'before writing' : `with blocks [0, ${durable}) on the target${this.o.checkpoint ? ' (resume point saved)' : ''}`;
        throw new UpdateEngineError('ERR_ABORTED', `Payload apply stopped ${where}`, { cause: userSignal?.reason });
      }
      throw wrapError(root, 'ERR_DOWNLOAD_TRANSFER', 'Reading the payload failed');
    } finally {
      userSignal?.removeEventListener('abort', onUserAbort);
      this.controller.abort();
      await this.reader?.cancel();
      stream?.destroy();
      if (targetOpen) await this.o.target.close().catch((e: unknown) => this.logger.warn({ err: e }, 'Closing the write target failed'));
      await hashes.close();
    }
  }

  /** Decodes, hashes (worker) and checks one block, then hands it to the writer, which holds the slot as long as it needs the bytes. */
  private async processBlock(index: number, storedView: Buffer, slot: BlockSlot, ctx: BlockContext): Promise<void> {
    const { manifest } = ctx;
    const decoded = decodeBlock(manifest.compression, storedView, imageBlockLength(manifest, index), index);
    const imageHash = ctx.imageHash;
    if (imageHash) {
      slot.hold();
      this.imageChain = this.imageChain
        .then(async () => imageHash.update(await decoded))
        .catch(this.fail)
        .finally(() => slot.release());
    }
    try {
      const image = await decoded;
      const digest = await ctx.hashes.hashOnce(image);
      const expected = blockHash(ctx.header.blockTable, index);
      if (!digest.equals(expected)) {
        throw new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', `Block ${index} SHA-256 is ${digest.toString('hex')}, the block table says ${expected.toString('hex')}`);
      }
      if (this.failure) return; // after an abort, blocks already verified are still written (the resume point covers them)
      slot.hold();
      ctx.writer.submit(index, image, () => slot.release());
    } catch (e) {
      this.fail(e);
    } finally {
      slot.release();
    }
  }
}
