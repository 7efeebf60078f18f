// Reading a payload file's metadata without verifying it: the manifest alone (the dev Omaha server
// learns version, app id, board and image size from it), or the whole header region (inspect, signing).
// Nothing read here is trusted: applyPayload and `payload verify` check signatures and hashes.

import { ByteReader } from './byte-reader.ts';
import { openFilePayload } from './file-source.ts';
import { parseManifest, type PayloadManifest } from './manifest.ts';
import { readManifestBytes, readPayloadHeader, type PayloadHeader } from './payload-header.ts';
import { MANIFEST_MAX_BYTES } from './manifest.ts';
import { TAR_BLOCK_BYTES, tarPadding } from './tar-header.ts';

async function withReader<T>(path: string, end: number | undefined, use: (reader: ByteReader) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const range = end === undefined ? { start: 0 } : { start: 0, end };
  const stream = await openFilePayload(path, 64 * 1024)([range], controller.signal);
  const reader = new ByteReader(stream);
  try {
    return await use(reader);
  } finally {
    controller.abort();
    await reader.cancel();
    stream.destroy();
  }
}

/** The manifest's exact bytes, reading only the first entry (ERR_PAYLOAD_FORMAT when it is not one). */
export async function readManifestBytesFromFile(path: string): Promise<Buffer> {
  const end = TAR_BLOCK_BYTES + MANIFEST_MAX_BYTES + tarPadding(MANIFEST_MAX_BYTES);
  return withReader(path, end, (reader) => readManifestBytes(reader));
}

/** The manifest of a payload file, unverified, reading only the first tar entry. */
export async function readPayloadManifest(path: string): Promise<PayloadManifest> {
  return parseManifest(await readManifestBytesFromFile(path));
}

/** The header region of a payload file (manifest, signatures, block table, data offset), unverified. */
export async function readPayloadFileHeader(path: string): Promise<PayloadHeader> {
  return withReader(path, undefined, (reader) => readPayloadHeader(reader, { accept: (bytes) => parseManifest(bytes) }));
}
