// Atomic, durable file replacement: write a temporary file, fsync it, rename it over the old one,
// fsync the directory. Readers see the old file or the new one, never a half-written one.

import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createExclusive, tempPathFor } from './temp-file.ts';

/** Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = join(path, '..');
  const temp = tempPathFor(path);
  try {
    const file = await createExclusive(temp, mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
