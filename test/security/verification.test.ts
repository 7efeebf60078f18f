// Security review (docs/security.md, "Keyring" and "Downgrade"): no setting turns signature checks
// off; a payload by an untrusted key, or no trusted key at all, writes not one byte to the slot even
// with the most permissive settings; an older version is refused unless ALLOW_DOWNGRADE, which is
// logged at warn level when it lets one through. Runs the real daemon against a small Omaha server.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, systemConfigPaths } from '../../src/config/load.ts';
import { KEY_SPECS } from '../../src/config/schema.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { TEST_KEYS_DIR, UpdateLab } from '../../src/demo/lab.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { buildOmahaResponse } from '../../src/omaha/response-builder.ts';
import { createLogger } from '../../src/platform/logger.ts';

let dir: string;
let lab: UpdateLab;
let server: Server | undefined;
let payloadGets = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-sec-verify-'));
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await lab?.close();
  await rm(dir, { recursive: true, force: true });
});

/** An Omaha server on 127.0.0.1 that offers `payloadPath` as `version` to anyone, whatever version they run. */
async function offerToAnyone(payloadPath: string, version: string): Promise<string> {
  const payload = await readFile(payloadPath);
  const sha256Base64 = createHash('sha256').update(payload).digest('base64');
  payloadGets = 0;
  server = createServer((req, res) => {
    if (req.method === 'GET') {
      payloadGets += 1;
      res.writeHead(200, { 'content-length': payload.length }).end(payload);
      return;
    }
    req.resume().on('end', () => {
      const updateCheck = {
        kind: 'update' as const,
        codebase: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`,
        packageName: 'update.payload',
        version,
        sizeBytes: payload.length,
        sha256Base64,
      };
      res.writeHead(200, { 'content-type': 'text/xml' }).end(buildOmahaResponse([{ appId: lab.settings().appId, ping: true, events: 1, updateCheck }]));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/update/`;
}

async function slotB(): Promise<{ bytes: Buffer; priority: number; tries: number }> {
  const b = (await lab.slots()).find((s) => s.partition === 4);
  if (!b) throw new Error('no slot B');
  return { bytes: (await readFile(lab.disk)).subarray(b.byteOffset, b.byteOffset + b.byteLength), priority: b.priority, tries: b.tries };
}

/** One daemon cycle with these settings; the log lines and the error code (or "exit N"). */
async function cycle(extra: Record<string, string>): Promise<{ outcome: string; lines: Array<{ level: number; msg: string }> }> {
  const sink = new PassThrough();
  const lines: Array<{ level: number; msg: string }> = [];
  sink.on('data', (c: Buffer) =>
    lines.push(
      ...c
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
    ),
  );
  const outcome = await runDaemon(lab.settings(extra), {
    once: true,
    logger: createLogger({ level: 'debug', pretty: false, destination: sink }),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
  }).then(
    (code) => `exit ${code}`,
    (e: unknown) => (e instanceof UpdateEngineError ? e.code : String(e)),
  );
  return { outcome, lines };
}

async function makeLab(initialVersion: string, payloadVersion: string, privateKey = 'test-only-ed25519.pem'): Promise<string> {
  lab = new UpdateLab({ dir, initialVersion, usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  const p = await lab.addPayload(payloadVersion, { privateKeyPem: await readFile(join(TEST_KEYS_DIR, privateKey), 'utf8') });
  return p.path;
}

describe('no setting bypasses signature verification', () => {
  it('no key of the settings names a way around it, and made-up ones are ignored with a warning', async () => {
    const bypassing = KEY_SPECS.map((s) => s.key).filter((k) => /VERIF|SIGN|INSECURE|SKIP|UNSAFE|TRUST|DEV|DEBUG|NO_CHECK/.test(k));
    expect(bypassing).toEqual([]);
    const env = { UPDATE_ENGINE_SKIP_SIGNATURE: '1', UPDATE_ENGINE_INSECURE: 'true', UPDATE_ENGINE_VERIFY_PAYLOAD: 'false', UPDATE_ENGINE_DEV_MODE: '1' };
    const loaded = await loadSettings({ paths: systemConfigPaths(dir), env });
    expect(loaded.warnings.filter((w) => w.includes('unknown key'))).toHaveLength(4);
    expect(loaded.settings).toEqual((await loadSettings({ paths: systemConfigPaths(dir), env: {} })).settings);
  });

  it('a payload signed by an untrusted key writes nothing, even with ALLOW_DOWNGRADE and no BOARD', async () => {
    await makeLab('1.0.0', '2.0.0', 'test-only-ed25519-second.pem');
    await lab.serve();
    const before = await slotB();
    const { outcome } = await cycle({ allowDowngrade: 'true', ioWriteBytesPerSecond: '0' });
    expect(outcome).toBe('ERR_PAYLOAD_SIGNATURE');
    const after = await slotB();
    expect(after.bytes.equals(before.bytes)).toBe(true);
    expect([after.priority, after.tries]).toEqual([0, 0]);
  });

  it('PUBLIC_KEYS with no usable key refuses (ERR_KEYRING) rather than trusting anything', async () => {
    await makeLab('1.0.0', '2.0.0');
    await lab.serve();
    const keys = join(dir, 'keys.d');
    await mkdir(keys);
    await writeFile(join(keys, 'README.txt'), 'not a key\n');
    await writeFile(join(keys, 'broken.pem'), '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n');
    const before = await slotB();
    expect((await cycle({ publicKeys: keys })).outcome).toBe('ERR_KEYRING');
    expect((await slotB()).bytes.equals(before.bytes)).toBe(true);
  });
});

describe('downgrades', () => {
  it('an offer older than the running version is refused before any download', async () => {
    const path = await makeLab('3.0.0', '2.0.0');
    const url = await offerToAnyone(path, '2.0.0');
    const before = await slotB();
    expect((await cycle({ server: url })).outcome).toBe('ERR_PAYLOAD_DOWNGRADE');
    expect(payloadGets).toBe(0);
    expect((await slotB()).bytes.equals(before.bytes)).toBe(true);
  });

  it('with ALLOW_DOWNGRADE=true it is applied, and the log says so at warn level', async () => {
    const path = await makeLab('3.0.0', '2.0.0');
    const url = await offerToAnyone(path, '2.0.0');
    const { outcome, lines } = await cycle({ server: url, allowDowngrade: 'true' });
    expect(outcome).toBe('exit 0');
    expect(payloadGets).toBeGreaterThan(0);
    expect((await slotB()).bytes.subarray(0, 1024 * 1024).equals(await readFile(lab.payloads[0]?.imagePath ?? ''))).toBe(true);
    expect(lines.filter((l) => l.level >= 40 && l.msg.includes('ALLOW_DOWNGRADE')).map((l) => l.msg)).toEqual([
      'ALLOW_DOWNGRADE: applying version "2.0.0", which is not newer than the running "3.0.0"',
    ]);
  });
});
