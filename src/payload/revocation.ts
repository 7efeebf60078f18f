// The revocations beside the trusted keys: revoked/*.pem and revoked.list. They fail closed: a
// revocation entry that is a symlink, not the expected kind of file, unreadable or malformed stops
// the keyring from loading (ERR_KEYRING) instead of being skipped; skipping would trust a revoked key.

import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';

export const REVOKED_DIR = 'revoked';
export const REVOKED_LIST = 'revoked.list';

function revocationError(message: string, cause?: unknown): UpdateEngineError {
  return new UpdateEngineError(
    'ERR_KEYRING',
    `${message}; revocations are never skipped, so no payload is accepted until it is fixed`,
    cause === undefined ? {} : { cause },
  );
}

/** lstat that names the path; a symlink or the wrong kind of entry is refused. */
async function requireKind(path: string, kind: 'file' | 'directory'): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    throw revocationError(`Cannot read the revocation entry "${path}": ${(e as Error).message}`, e);
  }
  if (st.isSymbolicLink()) throw revocationError(`The revocation entry "${path}" is a symlink`);
  if (kind === 'file' && !st.isFile()) throw revocationError(`The revocation list "${path}" is not a regular file`);
  if (kind === 'directory' && !st.isDirectory()) throw revocationError(`The revoked keys "${path}" is not a directory`);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw revocationError(`Cannot read the revocation entry "${path}": ${(e as Error).message}`, e);
  }
}

/** Key ids from revoked.list: one 32-hex-digit id a line, # comments and blank lines allowed. */
export async function readRevokedList(path: string): Promise<string[]> {
  await requireKind(path, 'file');
  const ids: string[] = [];
  (await readText(path)).split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim().toLowerCase();
    if (line === '') return;
    if (!/^[0-9a-f]{32}$/.test(line)) throw new UpdateEngineError('ERR_KEYRING', `Line ${i + 1} of "${path}" is not a key id (32 hex digits): "${raw.trim()}"`);
    ids.push(line);
  });
  return ids;
}

/** The *.pem files of revoked/; anything else in it (symlink, folder, other name) is refused. */
export async function revokedPemFiles(dir: string): Promise<string[]> {
  await requireKind(dir, 'directory');
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw revocationError(`Cannot read the revoked keys "${dir}": ${(e as Error).message}`, e);
  }
  const files: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!name.endsWith('.pem')) throw revocationError(`"${path}" in the revoked keys is not a *.pem file`);
    await requireKind(path, 'file');
    files.push(path);
  }
  return files;
}
