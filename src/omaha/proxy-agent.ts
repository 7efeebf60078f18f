// Going through an HTTP proxy: an https.Agent that opens a CONNECT tunnel and runs TLS inside it,
// and a request function that sends plain-HTTP requests to the proxy with the absolute URL.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { HttpTransportError } from './http-transport.ts';
import { proxyAuthorization } from './proxy.ts';

const MAX_CONNECT_RESPONSE_BYTES = 16 * 1024;

function proxyPort(proxy: URL): number {
  return Number(proxy.port || 80);
}

function redact(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** Opens a CONNECT tunnel through the proxy to host:port; resolves with the raw socket. */
function openTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const target = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxyPort(proxy) });
    let received = Buffer.alloc(0);
    const fail = (message: string, cause?: unknown) => {
      socket.destroy();
      reject(new HttpTransportError('proxy', `https://${target}/`, `Proxy ${redact(proxy)}: ${message}`, { cause }));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer to CONNECT ${target} within ${timeoutMs} ms`));
    socket.once('error', (e) => fail(`cannot open a tunnel to ${target}: ${e.message}`, e));
    socket.once('connect', () => {
      const auth = proxyAuthorization(proxy);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`);
    });
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > MAX_CONNECT_RESPONSE_BYTES) fail('CONNECT response headers too large');
        return;
      }
      socket.off('data', onData);
      socket.removeAllListeners('error');
      socket.setTimeout(0);
      const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
      if (status === undefined || !status.startsWith('2')) {
        fail(`CONNECT ${target} was answered "${statusLine}"`);
        return;
      }
      const rest = received.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/** An https.Agent whose connections go through a CONNECT tunnel of an HTTP proxy. */
export class ProxyTunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    private readonly connectTimeoutMs: number,
    options: https.AgentOptions = {},
  ) {
    super(options);
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = String(options.hostname ?? options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    const port = Number(options.port ?? 443);
    openTunnel(this.proxy, host, port, this.connectTimeoutMs).then(
      (socket) => {
        const servername = options.servername ?? (net.isIP(host) === 0 ? host : undefined);
        const secure = tls.connect({ ...(options as tls.ConnectionOptions), socket, ...(servername !== undefined ? { servername } : {}) });
        callback?.(null, secure);
      },
      (e: unknown) => callback?.(e as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** Sends a plain-HTTP request to the proxy with the absolute URL as its target (RFC 9112 absolute-form). */
export function requestViaHttpProxy(proxy: URL, agent: http.Agent, url: URL, options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest {
  const headers: http.OutgoingHttpHeaders = { ...(options.headers as http.OutgoingHttpHeaders | undefined), host: url.host };
  const auth = proxyAuthorization(proxy);
  if (auth) headers['proxy-authorization'] = auth;
  const target = new URL(url.href);
  target.username = '';
  target.password = '';
  target.hash = '';
  const { hostname: _h, host: _o, port: _p, path: _a, socketPath: _s, ...rest } = options;
  return http.request({ ...rest, agent, hostname: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxyPort(proxy), path: target.href, headers }, callback);
}
