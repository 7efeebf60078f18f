// Block compression: each block compressed on its own (gzip level 9 or brotli quality 5) for the
// generator, and inflated back in the libuv thread pool with the output capped at the block's length,
// so that a zip bomb stops at one block. The settings are fixed: the generator compresses each block
// twice and relies on getting the same bytes both times.

import { brotliCompress, brotliDecompress, constants, gunzip, gzip, type InputType } from 'node:zlib';
import { UpdateEngineError } from '../errors.ts';
import type { Compression } from './manifest.ts';

export function compressBlock(compression: Exclude<Compression, 'none'>, input: InputType): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, out: Buffer) => (e ? reject(e) : resolve(out));
    if (compression === 'gzip') gzip(input, { level: 9 }, done);
    else brotliCompress(input, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }, done);
  });
}

function inflate(compression: Exclude<Compression, 'none'>, input: InputType, maxOutputLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, out: Buffer) => (e ? reject(e) : resolve(out));
    if (compression === 'gzip') gunzip(input, { maxOutputLength }, done);
    else brotliDecompress(input, { maxOutputLength }, done);
  });
}

/**
 * The image bytes of block `index` from its stored bytes. ERR_PAYLOAD_FORMAT when they do not
 * decompress, decompress past `imageLength` (checked while inflating), or come out short.
 */
export async function decodeBlock(compression: Compression, stored: Uint8Array, imageLength: number, index: number): Promise<Uint8Array> {
  if (compression === 'none') return stored;
  let out: Buffer;
  try {
    out = await inflate(compression, stored, imageLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Block ${index} decompresses past the block length of ${imageLength} bytes (${compression})`, {
        cause: e,
      });
    }
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Block ${index} does not decompress (${compression}): ${(e as Error).message}`, { cause: e });
  }
  if (out.byteLength !== imageLength) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Block ${index} decompresses to ${out.byteLength} bytes, expected ${imageLength} (${compression})`);
  }
  return out;
}
