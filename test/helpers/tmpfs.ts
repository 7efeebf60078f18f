// A tiny tmpfs for out-of-space tests (root only): mounted on a directory the test made, resized
// with remount (shrunk to what is used plus a margin, grown to end the fault), unmounted by its path.

import { execFileSync } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { requireRoot, requireTool } from './tools.ts';

export interface TmpfsMount {
  dir: string;
  /** Bytes in use (blocks - free blocks). */
  usedBytes(): Promise<number>;
  /** remount with a new size in bytes (rounded up to pages by the kernel). */
  resize(sizeBytes: number): void;
  /** Unmounts (by this mount point only); safe to call twice. */
  unmount(): void;
}

/** Mounts a tmpfs of `sizeBytes` on `dir` (an empty directory the caller created). */
export function mountTmpfs(dir: string, sizeBytes: number): TmpfsMount {
  requireRoot('mounting a tmpfs');
  requireTool('mount');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  let mounted = true;
  return {
    dir,
    async usedBytes() {
      const s = await statfs(dir);
      return (s.blocks - s.bfree) * s.bsize;
    },
    resize(bytes) {
      execFileSync('mount', ['-o', `remount,size=${bytes}`, dir], { stdio: 'pipe' });
    },
    unmount() {
      if (!mounted) return;
      execFileSync('umount', [dir], { stdio: 'pipe' });
      mounted = false;
    },
  };
}
