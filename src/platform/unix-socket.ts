// Preparing a Unix socket path for a server (the control socket, the metrics socket): a path that is
// not a socket, or a socket someone listens on, is refused; a stale socket is removed.

import { lstat, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';

/** True when something accepts connections on the socket at `path`. */
export function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes `path` free for a new socket: 'absent' when nothing was there, 'removed' when a stale socket
 * was removed. Throws an Error saying why when the path cannot be used (callers wrap it).
 */
export async function clearStaleSocket(path: string): Promise<'absent' | 'removed'> {
  const existing = await lstat(path).catch(() => undefined);
  if (!existing) return 'absent';
  if (!existing.isSocket()) throw new Error('the path exists and is not a socket; remove it');
  if (await isListening(path)) throw new Error('another process is listening on it');
  await rm(path, { force: true });
  return 'removed';
}
