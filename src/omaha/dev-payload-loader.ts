// Loads the development server's payloads: each file's manifest (unverified: the client verifies),
// size, and the base64 SHA-256 and SHA-1 that the Omaha answer carries, in one streaming pass.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { readPayloadManifest } from '../payload/inspect.ts';
import { checkCatalog, type DevPayload } from './dev-catalog.ts';

async function hashFile(path: string): Promise<{ sha256Base64: string; sha1Base64: string; sizeBytes: number }> {
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sha256Base64: sha256.digest('base64'), sha1Base64: sha1.digest('base64'), sizeBytes };
}

/** Loads one payload file (ERR_USAGE when it cannot be read, ERR_PAYLOAD_FORMAT when it is not a payload). */
export async function loadDevPayload(path: string, index: number): Promise<DevPayload> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UpdateEngineError('ERR_USAGE', `Payload "${path}" is not a file`);
  } catch (e) {
    throw wrapError(e, 'ERR_USAGE', `Cannot read payload "${path}"`);
  }
  const manifest = await readPayloadManifest(path);
  const hashes = await hashFile(path);
  return {
    index,
    path,
    fileName: basename(path),
    version: manifest.version,
    appId: manifest.appId,
    board: manifest.board,
    ...hashes,
  };
}

/** Loads every payload, in order, and refuses duplicate versions. */
export async function loadDevPayloads(paths: readonly string[]): Promise<DevPayload[]> {
  const payloads: DevPayload[] = [];
  for (const [i, path] of paths.entries()) payloads.push(await loadDevPayload(path, i));
  checkCatalog(payloads);
  return payloads;
}
