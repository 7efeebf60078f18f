// The keyring (PUBLIC_KEYS): a PEM file, or a directory whose *.pem public keys are trusted (other files
// skipped with a warning), with revoked keys in a revoked/ subfolder (*.pem) or a revoked.list of key ids.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { UpdateEngineError, wrapError } from '../errors.ts';
import { algorithmForKey, keyIdOf, publicKeyFromPem } from './signature.ts';
import { REVOKED_DIR, REVOKED_LIST, readRevokedList, revokedPemFiles } from './revocation.ts';

export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
  /** Where it was read from, e.g. `/usr/share/update-engine/keys.d/release-2025.pem`. */
  source: string;
}

export interface Keyring {
  /** The PUBLIC_KEYS path it was loaded from. */
  readonly source: string;
  readonly keys: ReadonlyMap<string, TrustedKey>;
  /** Signatures by these keys never count, even when they verify. */
  readonly revokedKeyIds: ReadonlySet<string>;
}

export interface LoadKeyringOptions {
  logger?: Pick<Logger, 'warn'>;
  /** More key ids to refuse (besides revoked/ and revoked.list). */
  revokedKeyIds?: readonly string[];
}

export { REVOKED_DIR, REVOKED_LIST };
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function keyringError(message: string, cause?: unknown): UpdateEngineError {
  return new UpdateEngineError('ERR_KEYRING', message, cause === undefined ? {} : { cause });
}

/** The public keys in one PEM file (it may hold several). Private keys are refused: they do not belong on machines. */
export async function readPublicKeys(path: string): Promise<TrustedKey[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw keyringError(`Cannot read trusted key file "${path}": ${(e as Error).message}`, e);
  }
  const keys: TrustedKey[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    if (label.includes('PRIVATE KEY')) throw keyringError(`Trusted key file "${path}" holds a private key; give machines only the public key`);
    if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') continue;
    const publicKey = publicKeyFromPem(match[0], `"${path}"`);
    try {
      algorithmForKey(publicKey);
    } catch (e) {
      throw keyringError(`Trusted key in "${path}": ${(e as Error).message}`, e);
    }
    keys.push({ keyId: keyIdOf(publicKey), publicKey, source: path });
  }
  if (keys.length === 0) throw keyringError(`Trusted key file "${path}" holds no PEM public key`);
  return keys;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    throw keyringError(`Cannot read PUBLIC_KEYS "${path}": ${(e as Error).message}`, e);
  }
}

async function loadDirectory(dir: string, logger: LoadKeyringOptions['logger']) {
  const keys: TrustedKey[] = [];
  const revoked: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // Revocations fail closed (src/payload/revocation.ts): a symlink or odd entry stops the load.
    if (entry.name === REVOKED_DIR) {
      for (const file of await revokedPemFiles(path)) revoked.push(...(await readPublicKeys(file)).map((k) => k.keyId));
    } else if (entry.name === REVOKED_LIST) {
      revoked.push(...(await readRevokedList(path)));
    } else if (entry.name.endsWith('.pem') && !entry.isDirectory()) {
      keys.push(...(await readPublicKeys(path)));
    } else {
      logger?.warn({ file: path }, `Skipping "${path}" in the trusted keys: not a *.pem file`);
    }
  }
  return { keys, revoked };
}

/**
 * Loads PUBLIC_KEYS: a PEM file or a directory of *.pem files. ERR_KEYRING when the path cannot be read,
 * a *.pem file is not a public key, or no trusted key remains.
 */
export async function loadKeyring(path: string, options: LoadKeyringOptions = {}): Promise<Keyring> {
  let loaded: { keys: TrustedKey[]; revoked: string[] };
  try {
    loaded = (await isDirectory(path)) ? await loadDirectory(path, options.logger) : { keys: await readPublicKeys(path), revoked: [] };
  } catch (e) {
    throw wrapError(e, 'ERR_KEYRING', `Cannot read PUBLIC_KEYS "${path}"`);
  }
  const { keys, revoked } = loaded;
  const revokedKeyIds = new Set([...revoked, ...(options.revokedKeyIds ?? []).map((id) => id.toLowerCase())]);
  const map = new Map<string, TrustedKey>();
  for (const key of keys) if (!map.has(key.keyId)) map.set(key.keyId, key);
  if (map.size === 0) throw keyringError(`No trusted public keys in "${path}" (expected *.pem files)`);
  if ([...map.keys()].every((id) => revokedKeyIds.has(id))) {
    options.logger?.warn({ keyring: path }, `Every trusted key in "${path}" is revoked: no payload will be accepted`);
  }
  return { source: path, keys: map, revokedKeyIds };
}

/** A keyring from PEM texts (tests, tools). */
export function keyringFromPems(pems: readonly string[], revokedKeyIds: readonly string[] = []): Keyring {
  const map = new Map<string, TrustedKey>();
  pems.forEach((pem, i) => {
    const publicKey = publicKeyFromPem(pem, `key ${i + 1}`);
    map.set(keyIdOf(publicKey), { keyId: keyIdOf(publicKey), publicKey, source: `key ${i + 1}` });
  });
  return { source: 'memory', keys: map, revokedKeyIds: new Set(revokedKeyIds) };
}
