// Resolves a path inside a mounted image as if the image were the root: symbolic links, absolute
// or relative, are followed within the image and never lead out of it (no chroot needed).

import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';

const MAX_LINKS = 40;

/**
 * The host path of `inImage` (absolute, from the image's root) under `root`, with every symbolic
 * link resolved inside the image. Undefined when a component does not exist.
 */
export async function resolveInImage(root: string, inImage: string): Promise<string | undefined> {
  let pending = inImage.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(root, ...done, name);
    let stats;
    try {
      stats = await lstat(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw e;
    }
    if (!stats.isSymbolicLink()) {
      done.push(name);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`Too many symbolic links resolving "${inImage}" in the image`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
  }
  return posix.join(root, ...done);
}
