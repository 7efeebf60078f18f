// A delta apply (issue 18): what one pass does differently when it has a seed (the booted slot) and
// DELTA is on. The header is read without the image data: [0, 96 KiB) first (manifest and signatures
// fit in it), then, once the manifest verified, up to the image data for a formatVersion 2 payload, or
// the rest of the stream for a formatVersion 1 one (a full pass that costs no extra byte). Then the
// seed is indexed, the plan made, the missing ranges asked for in ONE open() (rangeIgnored 'fail':
// a server that ignores Range makes the apply fall back to a full pass), and the blocks assembled.
// A plan that would fetch (almost) the whole image anyway (the seed shares nothing with it) turns the
// pass into a full one: the header stream goes on with the rest of the payload, read in order by the
// receive stage, and the payload file's SHA-256 is checked as in any full pass.

import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { UpdateEngineError } from '../errors.ts';
import { BLOCK_TABLE_ENTRY_BYTES } from './block-table.ts';
import type { BlockPool } from './block-pool.ts';
import { ByteReader } from './byte-reader.ts';
import type { ApplyCheckpoint } from './checkpoint-store.ts';
import { CHUNK_RECORD_BYTES } from './chunk-index.ts';
import { RangeCursor, refetchInto } from './delta-fetch.ts';
import { ChunkLookup, indexSeed, noSeed, sampleSeed, zeroChunkBytes, type SeedOffsets } from './delta-index.ts';
import { planDelta, type DeltaPlan } from './delta-plan.ts';
import type { HashPool } from './hash-pool.ts';
import type { PayloadManifest } from './manifest.ts';
import type { PayloadHeader } from './payload-header.ts';
import { PacedSeed, type SeedSource } from './seed-source.ts';
import type { ByteRange, OpenPayload } from './source.ts';
import { assembleBlocks, type AssembleCounters } from './stage-assemble.ts';
import type { ReceivedBlock } from './stage-flow.ts';
import { TAR_BLOCK_BYTES, tarPadding } from './tar-header.ts';

/** The first request: manifest (16 KiB at most) and signatures (64 KiB at most) with their tar headers fit. */
export const HEADER_PROBE_BYTES = 96 * 1024;

export interface DeltaOptions {
  seed: SeedSource;
  /** IO_READ_BPS: reads of the seed per second, 0 = no limit. */
  readBytesPerSecond: number;
  /** The payload's size when known (the Omaha offer's): no range asked goes past it. */
  payloadSizeBytes: number | undefined;
}

/**
 * A plan that saves less than this share of a full pass's bytes is not worth a delta: assembling
 * blocks from ranges costs the main thread about 1 CPU-s per GiB more than the receive stage
 * (docs/apply-performance.md), and a full pass checks the payload file's SHA-256.
 */
export const DELTA_MIN_SAVING = 0.02;

/** Promise.withResolvers (Node 22) for Node 20. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A tar entry of `n` bytes with its header and padding. */
const entrySpan = (n: number): number => TAR_BLOCK_BYTES + n + tarPadding(n);

export class DeltaPass {
  /** Set once the manifest verified: the payload has a chunk index, the blocks are assembled. */
  active = false;
  private dataOffset: number | undefined;
  private readonly probeEnd: number;
  private readonly seed: PacedSeed;
  private fetched: { stream: Readable; reader: ByteReader } | undefined;
  private plan: DeltaPlan | undefined;
  private refetchedBytes = 0;
  /** Bytes the header stream received (the probe may reach past the header: those count too). */
  private headerBytes = 0;
  readonly counters: AssembleCounters = { bytesReused: 0, blocksRefetched: 0 };
  /** What the header stream goes on with once the plan is made: nothing (a delta) or the rest of the payload. */
  private readonly continuation = deferred<ByteRange[]>();

  constructor(
    private readonly open: OpenPayload,
    private readonly o: DeltaOptions,
    private readonly checkpoint: ApplyCheckpoint | undefined,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
  ) {
    this.probeEnd = Math.min(HEADER_PROBE_BYTES, checkpoint?.dataOffset ?? Number.POSITIVE_INFINITY, o.payloadSizeBytes ?? Number.POSITIVE_INFINITY);
    this.seed = new PacedSeed(o.seed, o.readBytesPerSecond);
  }

  /** Payload bytes received by this pass: header stream, ranges, refetches. */
  get bytesFetched(): number {
    return this.headerBytes + (this.fetched?.reader.bytesRead ?? 0) + this.refetchedBytes;
  }

  /** The header stream: the probe, then what the verified manifest says is needed next. */
  headerStream(): Readable {
    return Readable.from(this.chain(), { objectMode: true, highWaterMark: 2 });
  }

  private async *chain(): AsyncGenerator<Buffer> {
    yield* this.counted(await this.open([{ start: 0, end: this.probeEnd }], this.signal));
    const rest = this.rest();
    if (rest.length > 0) yield* this.counted(await this.open(rest, this.signal));
    if (!this.active) return;
    const more = await this.continuation.promise;
    if (more.length > 0) yield* this.counted(await this.open(more, this.signal));
  }

  private async *counted(stream: Readable): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      this.headerBytes += chunk.byteLength;
      yield chunk;
    }
  }

  /** After the probe: up to the image data (delta), else the stream a full pass reads (resumed or not). */
  private rest(): ByteRange[] {
    const from = this.probeEnd;
    if (this.active && this.dataOffset !== undefined) return from < this.dataOffset ? [{ start: from, end: this.dataOffset }] : [];
    const cp = this.checkpoint;
    if (cp) return [...(from < cp.dataOffset ? [{ start: from, end: cp.dataOffset }] : []), { start: cp.resumeOffset }];
    return this.o.payloadSizeBytes !== undefined && from >= this.o.payloadSizeBytes ? [] : [{ start: from }];
  }

  /** The manifest verified; `tableHeaderAt` is where the block table's tar header starts. */
  onAccepted(manifest: PayloadManifest, tableHeaderAt: number): void {
    if (manifest.formatVersion !== 2) {
      this.logger.info({ formatVersion: manifest.formatVersion }, 'The payload has no chunk index (format version 1): fetching all of it');
      return;
    }
    this.active = true;
    this.dataOffset =
      tableHeaderAt + entrySpan(manifest.blockCount * BLOCK_TABLE_ENTRY_BYTES) + entrySpan((manifest.chunkCount ?? 0) * CHUNK_RECORD_BYTES) + TAR_BLOCK_BYTES;
  }

  /** Indexes the seed and plans blocks [firstBlock, blockCount). */
  async prepare(header: PayloadHeader, firstBlock: number, onProgress?: () => void): Promise<void> {
    const { manifest, chunkIndex } = header;
    if (!chunkIndex || !manifest.chunkScheme) throw new UpdateEngineError('ERR_INTERNAL', 'A delta pass needs a chunk index');
    const from = this.checkpoint?.resumeOffset ?? Math.max(this.probeEnd, header.dataOffset);
    const fullBytes = this.payloadSizeBytes(header) - from;
    const seeding = { seed: this.seed, scheme: manifest.chunkScheme, index: chunkIndex, signal: this.signal };
    let lookup: ChunkLookup | undefined;
    let seedOffsets: SeedOffsets;
    try {
      const unrelatedAfter = await sampleSeed(seeding);
      if (unrelatedAfter !== undefined) {
        this.logger.info(
          { seed: this.o.seed.description, bytesRead: unrelatedAfter },
          `The booted slot shares almost nothing with the new image (${unrelatedAfter} bytes of it sampled)`,
        );
        // Nothing to copy; worth a delta only for the zero chunks it would fill in memory. Decided
        // before the index's lookup is built: a full pass never holds it.
        const zeroBytes = zeroChunkBytes(chunkIndex, manifest.chunkScheme);
        if (zeroBytes < fullBytes * DELTA_MIN_SAVING) return this.fullInstead(from, fullBytes, zeroBytes);
        seedOffsets = noSeed(chunkIndex);
      } else {
        lookup = new ChunkLookup(chunkIndex);
        seedOffsets = await indexSeed({ ...seeding, lookup, ...(onProgress && { onProgress }) });
      }
    } catch (e) {
      if (this.signal.aborted) throw e;
      this.logger.warn({ err: e, seed: this.o.seed.description }, `Cannot read the seed "${this.o.seed.description}": fetching every block`);
      seedOffsets = noSeed(chunkIndex);
    }
    const plan = planDelta({
      manifest,
      table: header.blockTable,
      index: chunkIndex,
      seedOffsets,
      ...(lookup && { repeated: lookup.repeated }),
      dataOffset: header.dataOffset,
      firstBlock,
    });
    if (plan.bytesToFetch >= fullBytes * (1 - DELTA_MIN_SAVING)) return this.fullInstead(from, fullBytes, plan.bytesFromSeed);
    this.plan = plan;
    this.continuation.resolve([]);
    this.logger.info(
      { seed: this.o.seed.description, bytesFromSeed: plan.bytesFromSeed, bytesToFetch: plan.bytesToFetch, ranges: plan.ranges.length },
      `Delta: ${plan.bytesFromSeed} bytes of the image found in "${this.o.seed.description}", ${plan.bytesToFetch} bytes to fetch in ${plan.ranges.length} ranges`,
    );
  }

  /** The pass goes on as a full one: the header stream continues with the payload from `from`. */
  private fullInstead(from: number, fullBytes: number, bytesFromSeed: number): void {
    this.logger.info(
      { seed: this.o.seed.description, bytesFromSeed },
      `Delta: only ${bytesFromSeed} bytes of the image from "${this.o.seed.description}" or zeros: fetching the whole payload instead`,
    );
    this.active = false;
    this.continuation.resolve(fullBytes > 0 ? [{ start: from }] : []);
  }

  /**
   * The blocks, assembled in order (in place of the receive stage). The probe may have brought image
   * data past the header: `headerReader` (at dataOffset) serves it, the missing ranges after it are asked for.
   */
  async *blocks(header: PayloadHeader, headerReader: ByteReader, pool: BlockPool, hashes: HashPool): AsyncGenerator<ReceivedBlock> {
    const { plan } = this;
    if (!plan) throw new UpdateEngineError('ERR_INTERNAL', 'The delta pass was not prepared');
    const { blockTable, dataOffset } = header;
    const probed = dataOffset < this.probeEnd ? [{ start: dataOffset, end: this.probeEnd, reader: headerReader }] : [];
    const ranges = plan.ranges.filter((r) => r.end > this.probeEnd).map((r) => ({ start: Math.max(r.start, this.probeEnd), end: r.end }));
    const stream = ranges.length > 0 ? await this.open(ranges, this.signal, { rangeIgnored: 'fail' }) : Readable.from([]);
    const reader = new ByteReader(stream, { signal: this.signal });
    this.fetched = { stream, reader };
    const cursor = new RangeCursor([...probed, ...ranges.map((r) => ({ ...r, reader }))]);
    yield* assembleBlocks({
      plan,
      manifest: header.manifest,
      table: blockTable,
      dataOffset,
      seed: this.seed,
      fetched: cursor,
      pool,
      hashes,
      refetch: async (index, dest) => {
        this.refetchedBytes += await refetchInto(this.open, dataOffset + (blockTable.storedOffsets[index] ?? 0), dest, this.signal);
      },
      counters: this.counters,
      signal: this.signal,
      logger: this.logger,
    });
  }

  /** The whole payload's size: the offer's, else the layout's (with the usual 1024-byte end marker). */
  payloadSizeBytes(header: PayloadHeader): number {
    return this.o.payloadSizeBytes ?? header.dataOffset + header.dataSizeBytes + tarPadding(header.dataSizeBytes) + 2 * TAR_BLOCK_BYTES;
  }

  close(): void {
    this.continuation.resolve([]);
    this.fetched?.stream.destroy();
  }
}
