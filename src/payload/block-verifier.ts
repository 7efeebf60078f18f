// The one check every block passes before it may be written: the SHA-256 of its image bytes (on a
// hash worker, in place when they are in shared memory) against the signed block table. Without
// read-back the same bytes feed the whole image's hash, in call order. Used for the blocks received
// from the payload and for the blocks kept on the target by a previous run (and, later, local chunks).

import { UpdateEngineError } from '../errors.ts';
import { blockHash, type BlockTable } from './block-table.ts';
import type { HashPool, WorkerHashStream } from './hash-pool.ts';

export class BlockVerifier {
  /** The image hash's updates, chained so that blocks go in in the order they were offered. */
  private imageOrder: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly hashes: HashPool,
    private readonly table: BlockTable,
    /** The whole image's hash, when the apply keeps one (no read-back). */
    private readonly imageHash?: WorkerHashStream,
  ) {}

  /** True when every block checked also goes into the whole image's hash (no read-back). */
  get hashesImage(): boolean {
    return this.imageHash !== undefined;
  }

  /** SHA-256 of block bytes; settles only once no worker reads `image` any more. */
  private async digest(image: Uint8Array | Promise<Uint8Array>): Promise<Buffer> {
    const bytes = Promise.resolve(image);
    const hashed = bytes.then((b) => this.hashes.hashOnce(b));
    let fed: Promise<void> | undefined;
    if (this.imageHash) {
      const imageHash = this.imageHash;
      fed = this.imageOrder.then(() => bytes).then((b) => imageHash.update(b));
      this.imageOrder = fed.catch(() => undefined);
    }
    const [digest, imageFed] = await Promise.allSettled([hashed, fed]);
    if (digest.status === 'rejected') throw digest.reason;
    if (imageFed.status === 'rejected') throw imageFed.reason;
    return digest.value;
  }

  /** True when block `index`'s image bytes match the block table. */
  async matches(index: number, image: Uint8Array | Promise<Uint8Array>): Promise<boolean> {
    return (await this.digest(image)).equals(blockHash(this.table, index));
  }

  /** Resolves when block `index`'s image bytes match the block table; ERR_PAYLOAD_HASH_MISMATCH otherwise. */
  async check(index: number, image: Uint8Array | Promise<Uint8Array>): Promise<void> {
    const digest = await this.digest(image);
    const expected = blockHash(this.table, index);
    if (!digest.equals(expected)) {
      throw new UpdateEngineError(
        'ERR_PAYLOAD_HASH_MISMATCH',
        `Block ${index} SHA-256 is ${digest.toString('hex')}, the block table says ${expected.toString('hex')}`,
      );
    }
  }

  /** The whole image's SHA-256 (hex) once every block was offered; undefined when no image hash is kept. */
  async imageDigestHex(): Promise<string | undefined> {
    if (!this.imageHash) return undefined;
    await this.imageOrder;
    return (await this.imageHash.digest()).toString('hex');
  }
}
