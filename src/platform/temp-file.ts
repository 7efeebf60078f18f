// Temporary files beside their final path: a random name (not the pid, which a local attacker can
// guess to plant a symlink), created with O_CREAT|O_EXCL|O_NOFOLLOW so an existing file or link there
// is refused instead of followed or truncated.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A fresh, unguessable temporary name in `path`'s directory: `.<name>.tmp-<16 hex>`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(8).toString('hex')}`);
}

/** Creates `path` for writing; fails (EEXIST, ELOOP) when anything, a symlink included, is already there. */
export function createExclusive(path: string, mode = 0o600): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}
