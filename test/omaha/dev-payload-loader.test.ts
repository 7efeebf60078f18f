// Loading the development server's payloads: manifest fields, size and both digests of the file;
// unreadable files, non-payloads and duplicate versions refused with precise errors.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { loadDevPayload, loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { makeTestPayload, type TestPayload } from '../helpers/omaha-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'dev-payload-loader-'));
let payload: TestPayload;

beforeAll(async () => {
  payload = await makeTestPayload(dir, { version: '3.1.4', imageBytes: 100_000, appId: '{app}', board: 'amd64-usr' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof UpdateEngineError ? e.code : 'other';
  }
  return undefined;
}

describe('loadDevPayload', () => {
  it('reads version, app id, board, size and the SHA-256 and SHA-1 of the file', async () => {
    const bytes = readFileSync(payload.path);
    expect(await loadDevPayload(payload.path, 3)).toEqual({
      index: 3,
      path: payload.path,
      fileName: 'update-3.1.4.payload',
      version: '3.1.4',
      appId: '{app}',
      board: 'amd64-usr',
      sizeBytes: bytes.length,
      sha256Base64: createHash('sha256').update(bytes).digest('base64'),
      sha1Base64: createHash('sha1').update(bytes).digest('base64'),
    });
    expect((await loadDevPayload(payload.path, 0)).sha256Base64).toBe(payload.payloadSha256Base64);
  });

  it('refuses a missing file, a directory and a file that is not a payload', async () => {
    expect(await codeOf(loadDevPayload(join(dir, 'missing.payload'), 0))).toBe('ERR_USAGE');
    expect(await codeOf(loadDevPayload(dir, 0))).toBe('ERR_USAGE');
    const junk = join(dir, 'junk.payload');
    writeFileSync(junk, 'not a tar archive at all'.repeat(100));
    expect(await codeOf(loadDevPayload(junk, 0))).toBe('ERR_PAYLOAD_FORMAT');
  });
});

describe('loadDevPayloads', () => {
  it('numbers the payloads in order and refuses the same version twice', async () => {
    expect((await loadDevPayloads([payload.path])).map((p) => p.index)).toEqual([0]);
    expect(await codeOf(loadDevPayloads([payload.path, payload.path]))).toBe('ERR_USAGE');
  });
});
