// Stage 1, receive: the payload's stored blocks, in order, each copied from the transport into a
// leased pool buffer (waiting for a free buffer is the backpressure on the transport), with the
// payload file's hash started on it; after the last block, the trailer. Owns each lease until it yields.

import type { BlockPool } from './block-pool.ts';
import type { BlockTable } from './block-table.ts';
import type { ByteReader } from './byte-reader.ts';
import type { WorkerHashStream } from './hash-pool.ts';
import { readPayloadTrailer } from './payload-header.ts';
import type { ReceivedBlock } from './stage-flow.ts';

export interface ReceiveOptions {
  reader: ByteReader;
  table: BlockTable;
  pool: BlockPool;
  /** Blocks [firstBlock, table.blockCount) are received (the ones before are on the target already). */
  firstBlock: number;
  /** The image data entry's size: the trailer (padding, end marker) follows it. */
  dataSizeBytes: number;
  /** The payload file's hash (fresh applies): each block's stored bytes are fed to it in order. */
  payloadHash: WorkerHashStream | undefined;
  signal: AbortSignal;
}

/** The blocks as they arrive; `payloadHashed` must settle before the next owner lets the lease go. */
export async function* receiveBlocks(o: ReceiveOptions): AsyncGenerator<ReceivedBlock> {
  for (let index = o.firstBlock; index < o.table.blockCount; index++) {
    const lease = await o.pool.acquire(o.signal);
    const storedLength = o.table.storedLengths[index] ?? 0;
    try {
      await o.reader.readInto(lease.memory, storedLength, `block ${index}`);
    } catch (e) {
      lease.release();
      throw e;
    }
    const stored = lease.memory.subarray(0, storedLength);
    const payloadHashed = o.payloadHash?.update(stored);
    payloadHashed?.catch(() => undefined); // awaited by the verify stage
    yield { index, stored, lease, payloadHashed };
  }
  await readPayloadTrailer(o.reader, o.dataSizeBytes);
}
