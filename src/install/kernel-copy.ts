// The slot's kernel onto the EFI system partition: KERNEL_DIR/vmlinuz-<slot letter>, written as a
// new file beside it (no copyFile, no chmod: the ESP may be FAT through FUSE), fsynced, renamed into
// place, the directory fsynced, then read back and compared by SHA-256 with the image's kernel.

import { createHash } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const CHUNK_BYTES = 1024 * 1024;

export interface KernelCopy {
  bytes: number;
  sha256Hex: string;
  /** The file written (host path). */
  path: string;
}

export interface KernelCopyHooks {
  /** Called after each chunk written to the temporary file (the crash bench kills here). */
  afterChunk?(bytesWritten: number): void;
  /** Called once the new file has its final name, before it is read back. */
  afterRename?(): void;
}

export function kernelFileName(letter: 'a' | 'b'): string {
  return `vmlinuz-${letter}`;
}

async function sha256Of(path: string): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  let bytes = 0;
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { hex: hash.digest('hex'), bytes };
}

function ignorable(e: unknown, codes: readonly string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** Copies `source` to `dir`/vmlinuz-<letter> crash-safely; throws when the copy does not match. */
export async function copyKernel(source: string, dir: string, letter: 'a' | 'b', hooks: KernelCopyHooks = {}): Promise<KernelCopy> {
  const target = join(dir, kernelFileName(letter));
  const temp = `${target}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  const input = await open(source, 'r');
  try {
    // A leftover from a crash is removed, not truncated: always a new file (fusefat refuses to rewrite one).
    await unlink(temp).catch((e: unknown) => {
      if (!ignorable(e, ['ENOENT'])) throw e;
    });
    const output = await open(temp, 'wx');
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) written += (await output.write(chunk, written, chunk.length - written)).bytesWritten;
        bytes += bytesRead;
        hooks.afterChunk?.(bytes);
      }
      await output.sync();
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
  try {
    await rename(temp, target);
  } catch (e) {
    // Some FAT implementations refuse to rename over an existing file: remove the old one first.
    if (!ignorable(e, ['EEXIST', 'EPERM', 'EACCES', 'ENOTEMPTY'])) throw e;
    await unlink(target).catch((u: unknown) => {
      if (!ignorable(u, ['ENOENT'])) throw u;
    });
    await rename(temp, target);
  }
  hooks.afterRename?.();
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync().catch((e: unknown) => {
      // FUSE and some filesystems cannot fsync a directory; the file itself was synced.
      if (!ignorable(e, ['EINVAL', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF'])) throw e;
    });
  } finally {
    await dirHandle.close();
  }
  const sha256Hex = hash.digest('hex');
  const check = await sha256Of(target);
  if (check.hex !== sha256Hex || check.bytes !== bytes) {
    throw new Error(`The copy "${target}" reads back as ${check.bytes} bytes with SHA-256 ${check.hex}, not the image's ${bytes} bytes with ${sha256Hex}`);
  }
  return { bytes, sha256Hex, path: target };
}

/** Removes vmlinuz-<letter> and its temporary file (after a failed step: the slot will not boot). */
export async function removeKernel(dir: string, letter: 'a' | 'b'): Promise<string[]> {
  const removed: string[] = [];
  const target = join(dir, kernelFileName(letter));
  for (const path of [`${target}.tmp`, target]) {
    try {
      await unlink(path);
      removed.push(path);
    } catch (e) {
      if (!ignorable(e, ['ENOENT'])) throw e;
    }
  }
  return removed;
}
