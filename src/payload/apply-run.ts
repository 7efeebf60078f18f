// One pass of the streaming apply: the header (verified before the target is opened), the blocks a
// previous run left on the target (re-verified), then the block pipeline, stage by stage:
// receive -> verify -> write -> sync -> read-back -> checkpoint (the stage-*.ts files).

import type { Logger } from 'pino';
import { UpdateEngineError, wrapError } from '../errors.ts';
import type { DeviceReader } from '../io/device-reader.ts';
import { collectGarbage } from '../platform/collect-garbage.ts';
import { planMemory, type MemoryPlan } from './apply-memory.ts';
import type { ApplyProgress, ApplyResult, ApplyRunOptions } from './apply-types.ts';
import { BlockPool } from './block-pool.ts';
import { maxStoredBlockBytes } from './block-table.ts';
import { BlockVerifier } from './block-verifier.ts';
import { ByteReader } from './byte-reader.ts';
import type { ApplyCheckpoint } from './checkpoint-store.ts';
import { DeltaPass } from './delta-pass.ts';
import { findChangedBlock } from './existing-blocks.ts';
import { applyHashWorkers, HashPool, type WorkerHashStream } from './hash-pool.ts';
import { checkExpectation, checkFits, parseManifest, type PayloadManifest } from './manifest.ts';
import { readPayloadHeader, type PayloadHeader, type RawSignature } from './payload-header.ts';
import type { OpenPayload } from './source.ts';
import { CheckpointStage, resumePointSaver } from './stage-checkpoint.ts';
import { readBackRuns } from './stage-read-back.ts';
import { receiveBlocks } from './stage-receive.ts';
import { syncBlocks } from './stage-sync.ts';
import { verifyBlocks } from './stage-verify.ts';
import { writeBlocks } from './stage-write.ts';
import { verifyManifestSignatures } from './verify-signatures.ts';

/** A dropped chunk index at least this large is collected at once (4 MiB: 1 GiB of ext4, 3 GiB of squashfs). */
const LARGE_INDEX_BYTES = 4 * 1024 * 1024;

/** The resume point does not fit this payload or target: start over (not an error of the payload). */
export class ResumeInvalid extends Error {}

/** What the block pipeline of one pass works with. */
interface PassContext {
  header: PayloadHeader;
  reader: ByteReader;
  verifier: BlockVerifier;
  pool: BlockPool;
  plan: MemoryPlan;
  firstBlock: number;
  readBack: boolean;
  /** The read-back's reads past the page cache (O_DIRECT), when the target has them. */
  device: DeviceReader | undefined;
  payloadHash: WorkerHashStream | undefined;
  hashes: HashPool;
}

export class ApplyRun {
  private readonly controller = new AbortController();
  /** The first failure of a stage (a transport that ends early is not one: it is the error itself). */
  private failure: unknown;
  private reader: ByteReader | undefined;
  private manifest: PayloadManifest | undefined;
  private signedBy = '';
  private checkpointStage: CheckpointStage | undefined;
  /** With a seed and DELTA on: the delta side of this pass (active once the payload turns out to have a chunk index). */
  private readonly delta: DeltaPass | undefined;

  constructor(
    private readonly open: OpenPayload,
    private readonly o: ApplyRunOptions,
    private readonly checkpoint: ApplyCheckpoint | undefined,
    private readonly logger: Logger,
    private readonly fetchedBefore: number,
    /** Warnings already logged by an earlier pass of the same apply (a delta that fell back, a resume started over). */
    private readonly warned = new Set<string>(),
  ) {
    const { seed } = o;
    this.delta =
      seed && o.delta !== false
        ? new DeltaPass(
            open,
            { seed, readBytesPerSecond: o.readBytesPerSecond ?? 0, payloadSizeBytes: o.payloadSizeBytes },
            checkpoint,
            logger,
            this.controller.signal,
          )
        : undefined;
  }

  get bytesFetched(): number {
    return this.delta ? this.delta.bytesFetched : (this.reader?.bytesRead ?? 0);
  }

  private get bytesReused(): number {
    return this.delta?.counters.bytesReused ?? 0;
  }

  /** Records the first failure of a stage and stops the transport, so that every stage winds down. */
  private readonly fail = (e: unknown): void => {
    if (this.failure !== undefined) return;
    this.failure = e;
    this.controller.abort(e instanceof Error ? e : new Error(String(e)));
  };

  private accept(manifestBytes: Buffer, signatures: RawSignature[]): PayloadManifest {
    const verdict = verifyManifestSignatures(manifestBytes, signatures, this.o.keyring);
    const manifest = parseManifest(manifestBytes);
    if (this.o.expect) {
      const notes = checkExpectation(manifest, this.o.expect);
      if (notes.downgradeAllowed && !this.warned.has('downgrade')) {
        this.warned.add('downgrade');
        this.logger.warn(
          { version: manifest.version, running: this.o.expect.runningVersion },
          `ALLOW_DOWNGRADE: applying version "${manifest.version}", which is not newer than the running "${this.o.expect.runningVersion}"`,
        );
      }
      if (notes.versionUnchecked) this.logger.warn({ version: manifest.version }, 'The running version is unknown: the payload version was not compared');
    }
    checkFits(manifest, this.o.target.sizeBytes, this.o.target.description);
    this.signedBy = verdict.keyId;
    this.manifest = manifest;
    this.delta?.onAccepted(manifest, this.reader?.offset ?? 0);
    this.logger.info(
      { version: manifest.version, keyId: verdict.keyId, imageSize: manifest.imageSize },
      `Payload manifest verified (signed by key "${verdict.keyId}")`,
    );
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

  private progress(phase: ApplyProgress['phase'], blocksDone: number): void {
    const m = this.manifest as PayloadManifest;
    this.o.onProgress?.({
      phase,
      blocksDone,
      blocksTotal: m.blockCount,
      imageBytesDone: Math.min(m.imageSize, blocksDone * m.blockSize),
      imageBytesTotal: m.imageSize,
      payloadBytesFetched: this.fetchedBefore + this.bytesFetched,
      bytesReused: this.bytesReused,
    });
  }

  async execute(): Promise<ApplyResult> {
    const userSignal = this.o.signal;
    userSignal?.throwIfAborted();
    const onUserAbort = () => this.controller.abort(userSignal?.reason);
    userSignal?.addEventListener('abort', onUserAbort, { once: true });
    const cp = this.checkpoint;
    const hashes = new HashPool(applyHashWorkers());
    let targetOpen = false;
    let device: DeviceReader | undefined;
    let stream: Awaited<ReturnType<OpenPayload>> | undefined;
    try {
      stream = this.delta
        ? this.delta.headerStream()
        : await this.open(cp ? [{ start: 0, end: cp.dataOffset }, { start: cp.resumeOffset }] : [{ start: 0 }], this.controller.signal);
      // The payload file's hash: header and trailer bytes as they are read, each block in the receive stage.
      const payloadHash = cp ? undefined : hashes.stream(0);
      const reader = (this.reader = new ByteReader(stream, {
        ...(payloadHash && { onReturned: (bytes: Buffer) => void payloadHash.update(bytes).catch(this.fail) }),
        signal: this.controller.signal,
      }));
      let header = await readPayloadHeader(reader, { accept: (bytes, sigs) => this.accept(bytes, sigs) });
      if (cp) {
        this.checkResume(header, cp);
        reader.jumpTo(cp.resumeOffset);
      }
      const { manifest } = header;
      // A delta indexes the seed before the target is opened.
      if (this.delta?.active) await this.delta.prepare(header, cp?.nextBlock ?? 0, () => this.progress('indexing-seed', 0));
      // A full pass does not need the chunk index (20 bytes per chunk: 20 MiB for 4 GiB of ext4): let it
      // go, and give a large one back now rather than at some later mark-compact (collect-garbage.ts).
      if (!this.delta?.active && header.chunkIndex) {
        const large = header.chunkIndex.bytes.byteLength >= LARGE_INDEX_BYTES;
        header = { ...header, chunkIndex: undefined };
        if (large) {
          await payloadHash?.drained(); // the index's bytes are on their way to the payload hash until then
          collectGarbage();
        }
      }
      await this.o.beforeWrite?.(manifest);
      await this.o.target.open();
      targetOpen = true;
      const readBack = this.o.readBack ?? true;
      const plan = planMemory(manifest, maxStoredBlockBytes(manifest.compression, manifest.blockSize), this.o);
      if (readBack) device = await this.openDeviceReader(manifest.blockSize);
      const ctx: PassContext = {
        header,
        reader,
        verifier: new BlockVerifier(hashes, header.blockTable, readBack ? undefined : hashes.stream(1)),
        pool: new BlockPool(plan.slotCount, plan.slotBytes),
        plan,
        firstBlock: cp?.nextBlock ?? 0,
        readBack,
        hashes,
        device,
        // The payload file's hash needs every byte: a delta does not read them all.
        payloadHash: this.delta?.active ? undefined : payloadHash,
      };
      await this.checkKeptBlocks(ctx);
      await this.runPipeline(ctx);
      return await this.finish(ctx);
    } catch (e) {
      throw this.outcome(e);
    } finally {
      userSignal?.removeEventListener('abort', onUserAbort);
      this.controller.abort();
      await this.reader?.cancel();
      stream?.destroy();
      this.delta?.close();
      await device?.close().catch(() => undefined);
      if (targetOpen) await this.o.target.close().catch((e: unknown) => this.logger.warn({ err: e }, 'Closing the write target failed'));
      await hashes.close();
    }
  }

  /** The read-back's direct reader; without one (tmpfs before Linux 6.6) the read-back reads the page cache, which is said once. */
  private async openDeviceReader(maxLength: number): Promise<DeviceReader | undefined> {
    const { target } = this.o;
    if (!target.openDeviceReader) return undefined;
    const device = await target.openDeviceReader(maxLength);
    if (!device) {
      this.logger.warn(
        { target: this.o.target.description },
        'The target has no direct I/O (O_DIRECT): the read-back compares what the page cache returns, not what the device holds',
      );
    }
    return device;
  }

  /** On resume: the blocks before the resume point must still be on the target as the table says. */
  private async checkKeptBlocks(ctx: PassContext): Promise<void> {
    const cp = this.checkpoint;
    if (!cp || ctx.firstBlock === 0) return;
    const { manifest } = ctx.header;
    const changed = await findChangedBlock({
      target: this.o.target,
      manifest,
      count: ctx.firstBlock,
      verifier: ctx.verifier,
      pool: ctx.pool,
      signal: this.controller.signal,
      onProgress: (n) => this.progress('verifying-existing', n),
    });
    if (changed !== undefined) throw new ResumeInvalid(`block ${changed} on "${this.o.target.description}" differs from the block table`);
    this.logger.info({ blocks: ctx.firstBlock, resumeOffset: cp.resumeOffset }, `Resuming at block ${ctx.firstBlock} of ${manifest.blockCount}`);
  }

  /** receive -> verify -> write -> sync -> read-back -> checkpoint; resolves when every block is durable (and compared). */
  private async runPipeline(ctx: PassContext): Promise<void> {
    const { target } = this.o;
    const { header, pool, plan } = ctx;
    const blockSizeBytes = header.manifest.blockSize;
    const onFailure = this.fail;
    const store = this.o.checkpoint?.store;
    const received = this.delta?.active
      ? this.delta.blocks(header, ctx.reader, pool, ctx.hashes)
      : receiveBlocks({
          reader: ctx.reader,
          table: header.blockTable,
          pool,
          firstBlock: ctx.firstBlock,
          dataSizeBytes: header.dataSizeBytes,
          payloadHash: ctx.payloadHash,
          signal: this.controller.signal,
        });
    const verified = verifyBlocks(received, { manifest: header.manifest, verifier: ctx.verifier, limit: pool.count, onFailure });
    const written = writeBlocks(verified, {
      target,
      blockSizeBytes,
      keepForReadBack: ctx.readBack,
      limit: pool.count,
      onFailure,
      onWritten: (n) => this.progress('writing', n),
    });
    const synced = syncBlocks(written, { target, everyBlocks: plan.syncEveryBlocks, pool, onFailure });
    const durable = readBackRuns(synced, { target, blockSizeBytes, device: ctx.device, onFailure });
    this.checkpointStage = new CheckpointStage({
      firstBlock: ctx.firstBlock,
      // Bytes fetched beyond the last resume point are the interval plus the blocks held in the pool
      // (and a little in the transport): saving that much more often keeps what a kill (SIGKILL,
      // power cut) makes the next start fetch again under one interval plus the header.
      everyBlocks: Math.max(1, (this.o.checkpoint?.everyBlocks ?? plan.checkpointEveryBlocks) - plan.slotCount - 1),
      ...(store && { save: resumePointSaver(store, header, target.description) }),
      onFailure,
    });
    await this.checkpointStage.consume(durable);
  }

  /** After the last block: the whole image's hash (without read-back), the result, the resume point cleared. */
  private async finish(ctx: PassContext): Promise<ApplyResult> {
    const { manifest } = ctx.header;
    const imageSha256Hex = await ctx.verifier.imageDigestHex();
    if (imageSha256Hex !== undefined && imageSha256Hex !== manifest.imageSha256) {
      throw new UpdateEngineError(
        'ERR_PAYLOAD_HASH_MISMATCH',
        `Image SHA-256 from the payload is ${imageSha256Hex}, the manifest says ${manifest.imageSha256}`,
      );
    }
    const payloadSha256Base64 = ctx.payloadHash ? (await ctx.payloadHash.digest()).toString('base64') : undefined;
    await this.o.checkpoint?.store.clear();
    return {
      manifest,
      signedBy: this.signedBy,
      payloadSizeBytes: this.delta?.active ? this.delta.payloadSizeBytes(ctx.header) : ctx.reader.offset,
      payloadSha256Base64,
      // Every block on the target matched the signed block table: the image is the manifest's.
      imageSha256Hex: manifest.imageSha256,
      resumed: this.checkpoint !== undefined,
      payloadBytesFetched: this.fetchedBefore + this.bytesFetched,
      bytesReused: this.bytesReused,
      delta: this.delta?.active === true,
      blocksRefetched: this.delta?.counters.blocksRefetched ?? 0,
      blocksWritten: manifest.blockCount - ctx.firstBlock,
    };
  }

  /** The error a failed pass rejects with: ERR_ABORTED for an abort, else the first failure. */
  private outcome(e: unknown): Error {
    if (e instanceof ResumeInvalid) return e;
    const userSignal = this.o.signal;
    const aborted = userSignal?.aborted === true && this.failure === undefined;
    this.controller.abort();
    if (aborted) {
      const durable = this.checkpointStage?.durable;
      const where = durable === undefined ? 'before writing' : `with blocks [0, ${durable}) on the target${this.o.checkpoint ? ' (resume point saved)' : ''}`;
      return new UpdateEngineError('ERR_ABORTED', `Payload apply stopped ${where}`, { cause: userSignal?.reason });
    }
    return wrapError(this.failure ?? e, 'ERR_DOWNLOAD_TRANSFER', 'Reading the payload failed');
  }
}
