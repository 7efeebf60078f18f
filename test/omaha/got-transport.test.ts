import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateEngineError } from '../../src/errors.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { HttpTransportError } from '../../src/omaha/http-transport.ts';
import { startFaultServer, type FaultServer } from '../helpers/fault-server.ts';
import { makeTestCertificates } from '../helpers/tls-certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'got-transport-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function transportError(p: Promise<unknown>): Promise<HttpTransportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HttpTransportError) return e;
    throw e;
  }
  throw new Error('expected an HttpTransportError');
}

describe('GotTransport over plain HTTP', () => {
  let server: FaultServer;
  let transport: GotTransport;
  const content = Buffer.from('0123456789'.repeat(1000));
  beforeAll(async () => {
    server = await startFaultServer({ content, postBody: '<response protocol="3.0"/>' });
    transport = await GotTransport.create({ env: {} });
  });
  afterAll(async () => {
    transport.close();
    await server.close();
  });

  it('POSTs the body with its headers and returns status and body', async () => {
    const r = await transport.post(`${server.url}/v1/update/`, '<request/>', { headers: { 'content-type': 'text/xml' }, maxResponseBytes: 1000 });
    expect(r).toMatchObject({ statusCode: 200, truncated: false });
    expect(r.body.toString()).toBe('<response protocol="3.0"/>');
    const seen = server.requests.at(-1);
    expect(seen).toMatchObject({ method: 'POST', body: '<request/>' });
    expect(seen?.headers['content-type']).toBe('text/xml');
  });

  it('returns error statuses instead of throwing', async () => {
    server.setFaults([{ kind: 'status', status: 503 }]);
    expect((await transport.post(`${server.url}/`, 'x', { maxResponseBytes: 100 })).statusCode).toBe(503);
  });

  it('stops reading a body over the cap and marks it truncated', async () => {
    server.setFaults([{ kind: 'huge-body', bytes: 50 * 1024 * 1024 }]);
    const r = await transport.post(`${server.url}/`, 'x', { maxResponseBytes: 1024 * 1024 });
    expect(r.truncated).toBe(true);
    expect(r.body.length).toBe(1024 * 1024 + 1);
  });

  it('follows a redirected POST to where it points (got asks again and follows)', async () => {
    const moved = { kind: 'redirect', location: '/v1/moved/', status: 307 } as const;
    server.setFaults([moved, moved]);
    const r = await transport.post(`${server.url}/v1/update/`, '<request/>', { maxResponseBytes: 1000 });
    expect(r.statusCode).toBe(200);
    expect(r.body.toString()).toBe('<response protocol="3.0"/>');
    // Node's client met the redirect, got asked the same URL again and followed it with the same body.
    expect(server.requests.slice(-3).map((q) => [q.method, q.url, q.body])).toEqual([
      ['POST', '/v1/update/', '<request/>'],
      ['POST', '/v1/update/', '<request/>'],
      ['POST', '/v1/moved/', '<request/>'],
    ]);
  });

  it('fails a POST whose answer ends early with kind "network"', async () => {
    server.setFaults([{ kind: 'reset-after', bytes: 5 }]);
    const e = await transportError(transport.post(`${server.url}/`, 'x', { maxResponseBytes: 1000 }));
    expect(e.kind).toBe('network');
    expect(e.url).toBe(`${server.url}/`);
  });

  it('times out a POST left without an answer with kind "timeout", and an aborted one with kind "aborted"', async () => {
    server.setFaults([{ kind: 'no-headers' }]);
    const e = await transportError(transport.post(`${server.url}/`, 'x', { maxResponseBytes: 1000, responseTimeoutMs: 200 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain("'response' for 200ms");
    server.setFaults([{ kind: 'no-headers' }]);
    const total = await transportError(transport.post(`${server.url}/`, 'x', { maxResponseBytes: 1000, totalTimeoutMs: 200 }));
    expect(total.message).toContain("'request' for 200ms");
    server.setFaults([{ kind: 'no-headers' }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const aborted = await transportError(transport.post(`${server.url}/`, 'x', { maxResponseBytes: 1000, signal: controller.signal }));
    expect(aborted.kind).toBe('aborted');
  });

  it('streams a GET with a Range header and no decompression', async () => {
    const r = await transport.get(`${server.url}/p`, { headers: { range: 'bytes=10-19' } });
    expect(r.statusCode).toBe(206);
    expect((await readAll(r.body)).toString()).toBe('0123456789');
    expect(server.requests.at(-1)?.headers['accept-encoding']).toBeUndefined();
  });

  it('fails a redirect loop with kind "redirects"', async () => {
    server.setFaults(Array.from({ length: 20 }, () => ({ kind: 'redirect-loop' as const })));
    const e = await transportError(transport.get(`${server.url}/loop`, {}));
    expect(e.kind).toBe('redirects');
    server.setFaults([]);
  });

  it('fails a refused connection with kind "connect"', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await transportError(transport.get(`http://127.0.0.1:${port}/`, {}));
    expect(e.kind).toBe('connect');
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('times out waiting for headers with kind "timeout"', async () => {
    server.setFaults([{ kind: 'no-headers' }]);
    const e = await transportError(transport.get(`${server.url}/`, { responseTimeoutMs: 200 }));
    expect(e.kind).toBe('timeout');
  });

  it('does not send credentials over plain HTTP', async () => {
    const r = await transport.get(`${server.url}/p`, { credentials: { username: 'u', password: 'p' } });
    await readAll(r.body);
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('refuses an unreadable SERVER_CA_FILE with ERR_CONFIG_FILE', async () => {
    let caught: unknown;
    try {
      await GotTransport.create({ caFile: join(dir, 'missing.pem') });
    } catch (e) {
      caught = e;
    }
    expect((caught as UpdateEngineError).code).toBe('ERR_CONFIG_FILE');
    expect((caught as UpdateEngineError).message).toContain('missing.pem');
  });
});

interface Seen {
  authorization?: string;
  url?: string | undefined;
}

describe('GotTransport over HTTPS and proxies', () => {
  let tlsServer: https.Server;
  let plainServer: http.Server;
  let proxy: http.Server;
  let caFile: string;
  const seen: Seen[] = [];
  const proxied: string[] = [];
  let tlsUrl: string;
  let plainUrl: string;
  let proxyUrl: string;

  beforeAll(async () => {
    const certs = makeTestCertificates(dir);
    caFile = certs.caFile;
    const handler: http.RequestListener = (req, res) => {
      seen.push({ url: req.url, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (req.url === '/to-http') {
        res.writeHead(302, { location: `${plainUrl}/landed` });
        res.end();
        return;
      }
      res.end(`hello ${req.url}`);
    };
    tlsServer = https.createServer({ key: certs.key, cert: certs.cert }, handler);
    plainServer = http.createServer(handler);
    proxy = http.createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      const target = new URL(req.url ?? '/');
      const upstream = http.request({ hostname: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers }, (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      });
      req.pipe(upstream);
    });
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      proxied.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    for (const s of [tlsServer, plainServer, proxy]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    tlsUrl = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
    plainUrl = `http://127.0.0.1:${(plainServer.address() as AddressInfo).port}`;
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of [tlsServer, plainServer, proxy]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  it('refuses a server whose CA is not trusted (kind "tls")', async () => {
    const t = await GotTransport.create({ env: {} });
    try {
      const e = await transportError(t.get(`${tlsUrl}/`, {}));
      expect(e.kind).toBe('tls');
    } finally {
      t.close();
    }
  });

  it('trusts SERVER_CA_FILE in addition to the system CAs', async () => {
    const t = await GotTransport.create({ env: {}, caFile });
    try {
      const r = await t.get(`${tlsUrl}/ok`, {});
      expect((await readAll(r.body)).toString()).toBe('hello /ok');
    } finally {
      t.close();
    }
  });

  it('sends credentials over HTTPS and drops them on a redirect to http://', async () => {
    const t = await GotTransport.create({ env: {}, caFile });
    try {
      seen.length = 0;
      const r = await t.get(`${tlsUrl}/to-http`, { credentials: { username: 'user', password: 'secret' } });
      expect((await readAll(r.body)).toString()).toBe('hello /landed');
      expect(seen).toEqual([{ url: '/to-http', authorization: `Basic ${Buffer.from('user:secret').toString('base64')}` }, { url: '/landed' }]);
    } finally {
      t.close();
    }
  });

  it('sends plain HTTP through HTTP_PROXY in absolute form', async () => {
    const t = await GotTransport.create({ env: { HTTP_PROXY: proxyUrl } });
    try {
      proxied.length = 0;
      const r = await t.post(`${plainUrl}/v1/update/`, '<request/>', { maxResponseBytes: 100 });
      expect(r.body.toString()).toBe('hello /v1/update/');
      expect(proxied).toEqual([`POST ${plainUrl}/v1/update/`]);
    } finally {
      t.close();
    }
  });

  it('tunnels HTTPS through HTTPS_PROXY with CONNECT, still checking the certificate', async () => {
    const t = await GotTransport.create({ env: { HTTPS_PROXY: proxyUrl }, caFile });
    try {
      proxied.length = 0;
      const r = await t.get(`${tlsUrl}/tunnelled`, {});
      expect((await readAll(r.body)).toString()).toBe('hello /tunnelled');
      expect(proxied).toEqual([`CONNECT ${new URL(tlsUrl).host}`]);
    } finally {
      t.close();
    }
    const untrusting = await GotTransport.create({ env: { HTTPS_PROXY: proxyUrl } });
    try {
      expect((await transportError(untrusting.get(`${tlsUrl}/`, {}))).kind).toBe('tls');
    } finally {
      untrusting.close();
    }
  });

  it('goes direct for NO_PROXY hosts', async () => {
    const t = await GotTransport.create({ env: { HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
    try {
      proxied.length = 0;
      const r = await t.get(`${plainUrl}/direct`, {});
      expect((await readAll(r.body)).toString()).toBe('hello /direct');
      expect(proxied).toEqual([]);
    } finally {
      t.close();
    }
  });

  it('reports a proxy that refuses CONNECT (kind "proxy")', async () => {
    const refusing = http.createServer();
    refusing.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const t = await GotTransport.create({ env: { HTTPS_PROXY: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}` }, caFile });
    try {
      const e = await transportError(t.get(`${tlsUrl}/`, {}));
      expect(e.kind).toBe('proxy');
      expect(e.message).toContain('was answered 403');
    } finally {
      t.close();
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });
});
