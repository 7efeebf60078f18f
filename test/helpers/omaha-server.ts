// Test helpers for the Omaha side: real signed payloads made with createPayload and the test-only
// key, and the development Omaha server (in-process, 127.0.0.1, port 0) serving them.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { startDevServer, type DevServer, type RecordedEvent } from '../../src/omaha/dev-server.ts';
import { createPayload, type CreatePayloadResult } from '../../src/payload/create.ts';
import { keyringFromPems, type Keyring } from '../../src/payload/keyring.ts';

const KEYS = new URL('../../fixtures/keys/', import.meta.url);

/** The test-only Ed25519 key pair (fixtures/keys, never trusted outside tests). */
export const TEST_PRIVATE_KEY_PEM = readFileSync(new URL('test-only-ed25519.pem', KEYS), 'utf8');
export const TEST_PUBLIC_KEY_PEM = readFileSync(new URL('test-only-ed25519.pub.pem', KEYS), 'utf8');

/** A keyring that trusts the test-only key. */
export function testKeyring(): Keyring {
  return keyringFromPems([TEST_PUBLIC_KEY_PEM]);
}

export interface TestPayload extends CreatePayloadResult {
  path: string;
  imagePath: string;
  image: Buffer;
}

export interface TestPayloadOptions {
  version: string;
  imageBytes: number;
  blockSizeBytes?: number;
  appId?: string;
  board?: string;
  /** Default: random bytes. */
  image?: Buffer;
}

/** Writes a random image and its signed payload into `dir`. */
export async function makeTestPayload(dir: string, options: TestPayloadOptions): Promise<TestPayload> {
  const image = options.image ?? randomBytes(options.imageBytes);
  const imagePath = join(dir, `image-${options.version}.raw`);
  const path = join(dir, `update-${options.version}.payload`);
  await writeFile(imagePath, image);
  const result = await createPayload({
    imagePath,
    out: path,
    version: options.version,
    privateKeyPem: TEST_PRIVATE_KEY_PEM,
    ...(options.blockSizeBytes !== undefined ? { blockSizeBytes: options.blockSizeBytes } : {}),
    ...(options.appId !== undefined ? { appId: options.appId } : {}),
    ...(options.board !== undefined ? { board: options.board } : {}),
  });
  return { ...result, path, imagePath, image };
}

export interface TestOmahaServer extends DevServer {
  /** Every event received, in order. */
  events: RecordedEvent[];
}

/** Starts the development server on 127.0.0.1:0 with these payload files. */
export async function startTestOmahaServer(payloadPaths: string[], options: { track?: string; pollIntervalSeconds?: number } = {}): Promise<TestOmahaServer> {
  const events: RecordedEvent[] = [];
  const server = await startDevServer({
    payloads: await loadDevPayloads(payloadPaths),
    host: '127.0.0.1',
    port: 0,
    ...options,
    onEvent: (e) => void events.push(e),
  });
  return { ...server, events };
}
