// Compresses one block on its own (gzip level 9 or brotli quality 5) in the libuv thread pool, for the
// payload generator. The settings are fixed: the generator compresses each block twice and relies on
// getting the same bytes both times.

import { brotliCompress, constants, gzip, type InputType } from 'node:zlib';
import type { Compression } from './manifest.ts';

export function compressBlock(compression: Exclude<Compression, 'none'>, input: InputType): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, out: Buffer) => (e ? reject(e) : resolve(out));
    if (compression === 'gzip') gzip(input, { level: 9 }, done);
    else brotliCompress(input, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }, done);
  });
}
