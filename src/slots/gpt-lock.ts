// The GPT write lock: every writer of this project takes flock(LOCK_EX) on the disk device or image
// file before it reads the table it will rewrite, so two processes never interleave table writes.
// Node has no flock(2); flock(1) from util-linux locks our open file description, inherited as fd 3,
// and the lock stays with that description until we close it.

import type { FileHandle } from 'node:fs/promises';
import { UpdateEngineError } from '../errors.ts';
import { execArgv } from '../platform/exec.ts';

/** How long a writer waits for another one to finish its table writes. */
export const GPT_LOCK_WAIT_MS = 60_000;

/** Takes the exclusive lock on `handle` (released when it is closed); ERR_GPT_IO when it cannot. */
export async function lockDiskForWrite(handle: FileHandle, path: string, waitMs = GPT_LOCK_WAIT_MS): Promise<void> {
  let result;
  try {
    result = await execArgv(['flock', '--exclusive', '--wait', String(Math.max(1, Math.ceil(waitMs / 1000))), '3'], {
      inheritFds: [handle.fd],
      timeoutMs: waitMs + 10_000,
    });
  } catch (e) {
    throw new UpdateEngineError('ERR_GPT_IO', `Cannot lock disk "${path}" for the GPT write: flock (util-linux) cannot run: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (result.exitCode === 0) return;
  const why =
    result.exitCode === 1
      ? `another process held its lock for ${Math.round(waitMs / 1000)} s`
      : `flock failed (${result.exitCode ?? result.signal}): ${result.stderr.trim()}`;
  throw new UpdateEngineError('ERR_GPT_IO', `Cannot lock disk "${path}" for the GPT write: ${why}; nothing was written`);
}
