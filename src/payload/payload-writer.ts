// Writes a payload archive with tar-stream in the fixed entry order: manifest, signatures, block table,
// then the image data streamed from a producer with backpressure. Writes to a temporary file next to
// `out` and renames it into place at the end; returns the file's size and SHA-256.

import { createHash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import tar from 'tar-stream';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { ENTRY_NAMES, TAR_BLOCK_BYTES, tarPadding } from './tar-header.ts';
import { createExclusive, tempPathFor } from '../platform/temp-file.ts';

/** Receives the image data bytes, in order. Resolves when the consumer is ready for more. */
export type DataSink = (bytes: Uint8Array) => Promise<void>;

export interface PayloadParts {
  manifestBytes: Uint8Array;
  signaturesBytes: Uint8Array;
  tableBytes: Uint8Array;
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

/** The image data offset the layout implies (four 512-byte headers plus the padded entries before it). */
export function dataOffsetOf(parts: Pick<PayloadParts, 'manifestBytes' | 'signaturesBytes' | 'tableBytes'>): number {
  const entries = [parts.manifestBytes.byteLength, parts.signaturesBytes.byteLength, parts.tableBytes.byteLength];
  return entries.reduce((at, n) => at + TAR_BLOCK_BYTES + n + tarPadding(n), TAR_BLOCK_BYTES);
}

function header(name: string, size: number) {
  return { name, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), type: 'file' as const };
}

async function produce(pack: tar.Pack, parts: PayloadParts): Promise<void> {
  const [manifestName, signaturesName, tableName, dataName] = ENTRY_NAMES;
  pack.entry(header(manifestName, parts.manifestBytes.byteLength), Buffer.from(parts.manifestBytes));
  pack.entry(header(signaturesName, parts.signaturesBytes.byteLength), Buffer.from(parts.signaturesBytes));
  pack.entry(header(tableName, parts.tableBytes.byteLength), Buffer.from(parts.tableBytes));
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
