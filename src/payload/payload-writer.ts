// Writes a payload archive with tar-stream in the fixed entry order: manifest, signatures, block table,
// (formatVersion 2: chunk index,) then the image data streamed from a producer with backpressure.
// Writes to a temporary file next to `out` and renames it into place at the end; returns its size and SHA-256.

import { createHash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import tar from 'tar-stream';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { ENTRY_NAMES, ENTRY_NAMES_V2, TAR_BLOCK_BYTES, tarPadding } from './tar-header.ts';
import { createExclusive, tempPathFor } from '../platform/temp-file.ts';

/** Receives the image data bytes, in order. Resolves when the consumer is ready for more. */
export type DataSink = (bytes: Uint8Array) => Promise<void>;

export interface PayloadParts {
  manifestBytes: Uint8Array;
  signaturesBytes: Uint8Array;
  tableBytes: Uint8Array;
  /** formatVersion 2: the chunk index entry, written between the block table and the image data. */
  chunkIndexBytes?: Uint8Array | undefined;
  dataSizeBytes: number;
  /** Produces exactly dataSizeBytes through `sink`. Buffers handed over must not be reused. */
  writeData(sink: DataSink): Promise<void>;
}

export interface WrittenPayload {
  sizeBytes: number;
  sha256Base64: string;
  /** Payload offset of the first image data byte. */
  dataOffset: number;
}

/** The entries before the image data, in order: name and bytes. */
function headEntries(parts: Pick<PayloadParts, 'manifestBytes' | 'signaturesBytes' | 'tableBytes' | 'chunkIndexBytes'>): Array<[string, Uint8Array]> {
  const names = parts.chunkIndexBytes ? ENTRY_NAMES_V2 : ENTRY_NAMES;
  const bodies = [parts.manifestBytes, parts.signaturesBytes, parts.tableBytes, ...(parts.chunkIndexBytes ? [parts.chunkIndexBytes] : [])];
  return bodies.map((body, i) => [names[i] as string, body]);
}

/** The image data offset the layout implies (a 512-byte header per entry plus the padded entries before it). */
export function dataOffsetOf(parts: Pick<PayloadParts, 'manifestBytes' | 'signaturesBytes' | 'tableBytes' | 'chunkIndexBytes'>): number {
  return headEntries(parts).reduce((at, [, body]) => at + TAR_BLOCK_BYTES + body.byteLength + tarPadding(body.byteLength), TAR_BLOCK_BYTES);
}

function header(name: string, size: number) {
  return { name, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), type: 'file' as const };
}

async function produce(pack: tar.Pack, parts: PayloadParts): Promise<void> {
  for (const [name, body] of headEntries(parts)) pack.entry(header(name, body.byteLength), Buffer.from(body));
  const dataName = ENTRY_NAMES[ENTRY_NAMES.length - 1] as string;
  const entryDone = new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header(dataName, parts.dataSizeBytes), (err) => (err ? reject(err) : resolve()));
    sink.on('error', () => undefined); // reported through the entry callback
    let written = 0;
    parts
      .writeData(async (bytes) => {
        written += bytes.byteLength;
        if (written > parts.dataSizeBytes) throw new UpdateEngineError('ERR_INTERNAL', `Image data exceeds the ${parts.dataSizeBytes} bytes announced`);
        if (!sink.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) await once(sink, 'drain');
      })
      .then(
        () => sink.end(undefined),
        (e: unknown) => {
          reject(e);
          sink.destroy(e instanceof Error ? e : new Error(String(e)));
        },
      );
  });
  await entryDone;
  pack.finalize();
}

/** Writes the archive to `out` (atomically: temporary file, then rename). */
export async function writePayloadArchive(out: string, parts: PayloadParts): Promise<WrittenPayload> {
  const tmp = tempPathFor(out);
  const hash = createHash('sha256');
  let size = 0;
  const pack = tar.pack();
  let fh;
  try {
    fh = await createExclusive(tmp, 0o644);
  } catch (e) {
    throw wrapError(e, 'ERR_USAGE', `Cannot create payload file "${out}"`);
  }
  try {
    const producing = produce(pack, parts);
    producing.catch(() => pack.destroy());
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.byteLength;
      await fh.write(chunk);
    }
    await producing;
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, out);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw wrapError(e, 'ERR_INTERNAL', `Cannot write payload file "${out}"`);
  }
  return { sizeBytes: size, sha256Base64: hash.digest('base64'), dataOffset: dataOffsetOf(parts) };
}
