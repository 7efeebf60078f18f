// Shared by the stage tests: a real file region that records writes and syncs and can be told to fail
// or corrupt, blocks of a seeded image in leased pool buffers, and a way to run an iterable to its end.

import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import type { BlockPool } from '../../src/payload/block-pool.ts';
import type { VerifiedBlock, WrittenBlock } from '../../src/payload/stage-flow.ts';
import { makeDisk } from './helpers.ts';

export class RecordingTarget extends FileRegionTarget {
  written = new Set<number>();
  /** Blocks [0, n) written at each sync that succeeded. */
  durableAtSync: number[] = [];
  syncCalls = 0;
  reads = 0;
  failWriteAt: number | undefined;
  /** Sync calls from this one on fail (1-based); `failSyncOnce`: only that one. */
  failSyncFrom: number | undefined;
  failSyncOnce = false;
  /** Writes this byte offset with one bit flipped (a disk that silently corrupts). */
  corruptAt: number | undefined;

  constructor(
    path: string,
    size: number,
    private readonly blockSize: number,
  ) {
    super(path, 0, size);
  }

  override async write(data: Uint8Array, offset: number): Promise<void> {
    if (offset === this.failWriteAt) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    let bytes = data;
    if (this.corruptAt !== undefined && this.corruptAt >= offset && this.corruptAt < offset + data.byteLength) {
      bytes = Buffer.from(data);
      bytes[this.corruptAt - offset] = (bytes[this.corruptAt - offset] ?? 0) ^ 0x10;
    }
    await super.write(bytes, offset);
    this.written.add(offset / this.blockSize);
  }

  override async sync(): Promise<void> {
    this.syncCalls += 1;
    const failing = this.failSyncFrom !== undefined && (this.failSyncOnce ? this.syncCalls === this.failSyncFrom : this.syncCalls >= this.failSyncFrom);
    if (failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    let n = 0;
    while (this.written.has(n)) n++;
    await super.sync();
    this.durableAtSync.push(n);
  }

  override async readInto(buffer: Uint8Array, offset: number): Promise<number> {
    this.reads += 1;
    return super.readInto(buffer, offset);
  }
}

/** An opened RecordingTarget over a new disk image of `blocks` blocks. */
export async function recordingTarget(path: string, blocks: number, blockSize: number): Promise<RecordingTarget> {
  await makeDisk(path, blocks * blockSize);
  const target = new RecordingTarget(path, blocks * blockSize, blockSize);
  await target.open();
  return target;
}

/** Blocks [from, to) of `image` as verified blocks in leased pool buffers, in order. */
export async function* verifiedBlocks(image: Buffer, blockSize: number, pool: BlockPool, from: number, to: number): AsyncGenerator<VerifiedBlock> {
  for (let index = from; index < to; index++) {
    const lease = await pool.acquire();
    const bytes = image.subarray(index * blockSize, Math.min(image.byteLength, (index + 1) * blockSize));
    lease.memory.set(bytes);
    yield { index, image: lease.memory.subarray(0, bytes.byteLength), lease };
  }
}

/** Written blocks [from, to) (already on `target`), kept for the read-back when `keep`. */
export async function* writtenBlocks(
  image: Buffer,
  blockSize: number,
  pool: BlockPool,
  target: RecordingTarget,
  from: number,
  to: number,
  keep = true,
): AsyncGenerator<WrittenBlock> {
  for await (const block of verifiedBlocks(image, blockSize, pool, from, to)) {
    await target.write(block.image, block.index * blockSize);
    if (keep) yield { index: block.index, kept: { image: block.image, lease: block.lease } };
    else {
      block.lease.release();
      yield { index: block.index, kept: undefined };
    }
  }
}

/** Everything `source` yields, or its failure. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
