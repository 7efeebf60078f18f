// Attack on DOWNLOAD_USER/DOWNLOAD_PASSWORD (issue 14, point 1): a man in the middle of the plain
// http Omaha exchange rewrites the payload URL to an https host of its own, or makes an allowed host
// redirect to a stranger. Every server logs the Authorization headers it gets; only hosts the
// operator named (SERVER's host:port, DOWNLOAD_HOSTS) may ever see one. The real daemon runs --once.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { CredentialPolicy, redactUrl } from '../../src/omaha/credential-policy.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.ts';
import { startOmahaRewriter, type OmahaRewriter } from '../helpers/omaha-rewriter.ts';

const AUTH = `Basic ${Buffer.from('fleet:hunter2').toString('base64')}`;
let dir: string;
let certs: TestCertificates;
let lab: UpdateLab;
const servers: Array<http.Server> = [];
const seen: Record<string, string[]> = {};

async function listen(server: http.Server, name: string): Promise<string> {
  servers.push(server);
  seen[name] = [];
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An https payload host that logs Authorization and serves the lab's payloads (or redirects). */
async function payloadHost(name: string, redirectTo?: () => string): Promise<string> {
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    if (req.headers.authorization) seen[name]!.push(req.headers.authorization);
    if (redirectTo) {
      res.writeHead(302, { location: `${redirectTo()}${req.url ?? '/'}` });
      res.end();
      return;
    }
    const up = http.request(`${lab.server!.url}${req.url ?? '/'}`, { headers: req.headers.range ? { range: req.headers.range } : {} }, (u) => {
      res.writeHead(u.statusCode ?? 502, u.headers);
      u.pipe(res);
    });
    up.end();
  });
  return listen(server, name);
}

let stranger: string;
let allowed: string;
let allowedRedirecting: string;
let mitm: OmahaRewriter;
let codebase = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-cred-'));
  certs = makeTestCertificates(dir);
  stranger = await payloadHost('stranger');
  allowed = await payloadHost('allowed');
  allowedRedirecting = await payloadHost('allowedRedirecting', () => `https://${stranger}`);
  mitm = await startOmahaRewriter(
    () => lab.server!.updateUrl,
    (xml) => xml.replaceAll(`${lab.server!.url}/payloads/`, `${codebase}/payloads/`),
  );
});
afterAll(async () => {
  await mitm.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const k of Object.keys(seen)) seen[k] = [];
  lab = new UpdateLab({ dir: await mkdtemp(join(dir, 'lab-')), initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
});
afterEach(() => lab.close());

const daemonOnce = (extra: Record<string, string>) =>
  runDaemon(lab.settings({ server: mitm.updateUrl, downloadUser: 'fleet', downloadPassword: 'hunter2', serverCaFile: certs.caFile, ...extra }), {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  });

describe('credentials go only to hosts the operator named (point 1)', () => {
  it('an http answer naming a stranger https host: the payload is fetched, the stranger sees no Authorization', async () => {
    codebase = `https://${stranger}`;
    expect(await daemonOnce({})).toBe(0);
    expect(seen.stranger).toEqual([]);
    expect(mitm.authorizations).toEqual([]);
  });

  it('a host in DOWNLOAD_HOSTS gets them (the control: this test can see a leak)', async () => {
    codebase = `https://${allowed}`;
    expect(await daemonOnce({ downloadHosts: allowed })).toBe(0);
    expect(seen.allowed!.length).toBeGreaterThan(0);
    expect(new Set(seen.allowed)).toEqual(new Set([AUTH]));
  });

  it('an allowed host that redirects to a stranger: the stranger sees no Authorization', async () => {
    codebase = `https://${allowedRedirecting}`;
    expect(await daemonOnce({ downloadHosts: allowedRedirecting })).toBe(0);
    expect(seen.allowedRedirecting!.length).toBeGreaterThan(0);
    expect(seen.stranger).toEqual([]);
  });

  it("a password embedded in the answer's URL is not sent to a host the operator did not name", async () => {
    codebase = `https://fleet:hunter2@${stranger}`;
    expect(await daemonOnce({})).toBe(0);
    expect(seen.stranger).toEqual([]);
  });

  it('a password in an http:// SERVER URL is never sent in clear text', async () => {
    const t = await GotTransport.create({ env: {} });
    try {
      await t.post(mitm.updateUrl.replace('http://', 'http://fleet:hunter2@'), '<request protocol="3.0"/>', { maxResponseBytes: 1 << 20 });
    } finally {
      t.close();
    }
    expect(mitm.authorizations).toEqual([]);
  });
});

describe('the update check itself', () => {
  it('a password in an https:// SERVER URL goes to SERVER, but not along its redirect to a stranger', async () => {
    const t = await GotTransport.create({ env: {}, caFile: certs.caFile });
    try {
      await t.post(`https://fleet:hunter2@${allowedRedirecting}/v1/update/`, '<request protocol="3.0"/>', { maxResponseBytes: 1 << 20 });
    } finally {
      t.close();
    }
    expect(seen.allowedRedirecting).toEqual([AUTH]);
    expect(seen.stranger).toEqual([]);
  });
});

describe('CredentialPolicy (pure)', () => {
  const policy = new CredentialPolicy({
    server: 'https://update.example.net/v1/update/',
    downloadHosts: ['dl.example.net', 'mirror.example.net:8443'],
    credentials: { username: 'u', password: 'p' },
  });
  it.each([
    ['https://update.example.net/p', true],
    ['https://update.example.net:444/p', false],
    ['http://update.example.net/p', false],
    ['https://dl.example.net:9999/p', true],
    ['https://mirror.example.net:8443/p', true],
    ['https://mirror.example.net/p', false],
    ['https://evil.example.net/p', false],
    ['https://update.example.net.evil.net/p', false],
  ])('%s -> %s', (url, ok) => {
    expect(policy.allows(url)).toBe(ok);
  });
  it('strips an embedded password from every request URL and redacts it in logs', () => {
    expect(policy.forRequest('https://a:b@evil.example.net/p')).toEqual({ url: 'https://evil.example.net/p', refused: 'host' });
    expect(redactUrl('https://a:secret@evil.example.net/p')).toBe('https://a:***@evil.example.net/p');
  });
});
