// The proxy plumbing on its own: ProxyTunnelAgent (hpagent) opens a CONNECT tunnel (with Proxy-Authorization)
// and requestViaHttpProxy sends the absolute URL; both against real servers on 127.0.0.1.

import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpTransportError } from '../../src/omaha/http-transport.ts';
import { ProxyTunnelAgent, requestViaHttpProxy } from '../../src/omaha/proxy-agent.ts';

interface Seen {
  line: string;
  auth?: string;
}

let target: http.Server;
let proxy: http.Server;
let targetPort: number;
let proxyUrl: URL;
const seen: Seen[] = [];

beforeAll(async () => {
  target = http.createServer((req, res) => res.end(`target ${req.url}`));
  proxy = http.createServer((req, res) => {
    seen.push({ line: `${req.method} ${req.url}`, ...(req.headers['proxy-authorization'] ? { auth: req.headers['proxy-authorization'] } : {}) });
    res.end(`proxy saw ${req.url} for host ${req.headers.host}`);
  });
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    seen.push({ line: `CONNECT ${req.url}`, ...(req.headers['proxy-authorization'] ? { auth: req.headers['proxy-authorization'] } : {}) });
    if (req.url === `127.0.0.1:${targetPort}`) {
      const upstream = net.connect(targetPort, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 OK\r\n\r\n');
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
    } else socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  for (const s of [target, proxy]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as AddressInfo).port;
  proxyUrl = new URL(`http://user:pa%20ss@127.0.0.1:${(proxy.address() as AddressInfo).port}`);
});
afterAll(async () => {
  for (const s of [target, proxy]) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const auth = `Basic ${Buffer.from('user:pa ss').toString('base64')}`;

function body(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    res
      .setEncoding('utf8')
      .on('data', (d: string) => (text += d))
      .on('end', () => resolve(text));
  });
}

describe('ProxyTunnelAgent', () => {
  it('opens a CONNECT tunnel with credentials and starts TLS inside it', async () => {
    seen.length = 0;
    const agent = new ProxyTunnelAgent(proxyUrl, 5000);
    const result = await new Promise<{ error: Error | null; socket: net.Socket | undefined }>((resolve) => {
      agent.createConnection({ host: '127.0.0.1', port: targetPort }, (error, socket) => resolve({ error, socket: socket as net.Socket | undefined }));
    });
    expect(result.error).toBeNull();
    expect(result.socket?.constructor.name).toBe('TLSSocket');
    result.socket?.on('error', () => undefined); // the target speaks plain HTTP: the handshake fails, the tunnel was the point
    result.socket?.destroy();
    agent.destroy();
    expect(seen).toEqual([{ line: `CONNECT 127.0.0.1:${targetPort}`, auth }]);
  });

  it('reports a refused CONNECT as a proxy failure with the status line', async () => {
    const agent = new ProxyTunnelAgent(proxyUrl, 5000);
    const error = await new Promise<Error>((resolve) => {
      agent.createConnection({ host: 'elsewhere.invalid', port: 443 }, (e) => resolve(e as Error));
    });
    agent.destroy();
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).kind).toBe('proxy');
    expect(error.message).toContain('CONNECT elsewhere.invalid:443 was answered 502');
    expect(seen.at(-1)).toEqual({ line: 'CONNECT elsewhere.invalid:443', auth });
  });
});

describe('ProxyTunnelAgent timeout', () => {
  it('gives up on a proxy that never answers CONNECT after the connect timeout (kind "proxy")', async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => void accepted.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const agent = new ProxyTunnelAgent(new URL(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`), 300);
    const started = performance.now();
    const error = await new Promise<Error>((resolve) => {
      agent.createConnection({ host: '127.0.0.1', port: 443 }, (e) => resolve(e as Error));
    });
    agent.destroy();
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).kind).toBe('proxy');
    expect(error.message).toContain('Proxy timeout');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('requestViaHttpProxy', () => {
  it('sends the absolute URL to the proxy with the target Host and Proxy-Authorization', async () => {
    seen.length = 0;
    const agent = new http.Agent();
    const url = new URL(`http://127.0.0.1:${targetPort}/v1/update/?q=1`);
    const text = await new Promise<string>((resolve, reject) => {
      const req = requestViaHttpProxy(proxyUrl, agent, url, { method: 'GET', headers: {} }, (res) => void body(res).then(resolve));
      req.on('error', reject);
      req.end();
    });
    agent.destroy();
    expect(seen).toEqual([{ line: `GET ${url.href}`, auth }]);
    expect(text).toBe(`proxy saw ${url.href} for host 127.0.0.1:${targetPort}`);
  });
});
