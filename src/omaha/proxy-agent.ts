// Going through an HTTP proxy: HTTPS through hpagent's CONNECT tunnel (as got documents it), with its
// failures named as proxy failures; plain HTTP as an absolute-form request to the proxy (RFC 9112),
// which proxies accept for any port (many refuse CONNECT to ports other than 443).

import http from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import { HttpsProxyAgent } from 'hpagent';
import { HttpTransportError } from './http-transport.ts';
import { proxyAuthorization } from './proxy.ts';

function proxyPort(proxy: URL): number {
  return Number(proxy.port || 80);
}

function redact(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** hpagent's HTTPS agent: a CONNECT that fails or gets no answer within the connect timeout is an HttpTransportError of kind 'proxy'. */
export class ProxyTunnelAgent extends HttpsProxyAgent {
  constructor(
    private readonly proxyUrl: URL,
    private readonly connectTimeoutMs: number,
    options: https.AgentOptions = {},
  ) {
    super({ ...options, proxy: proxyUrl });
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const target = `${options.host ?? options.hostname}:${options.port ?? 443}`;
    const done = (error: Error | null, socket: Duplex) => {
      if (error) {
        const answer = /^Bad response: (\d+)$/.exec(error.message)?.[1];
        const message = answer !== undefined ? `CONNECT ${target} was answered ${answer}` : `cannot open a tunnel to ${target}: ${error.message}`;
        callback?.(new HttpTransportError('proxy', `https://${target}/`, `Proxy ${redact(this.proxyUrl)}: ${message}`, { cause: error }), socket);
        return;
      }
      (socket as Duplex & { setTimeout(ms: number): void }).setTimeout(0); // the CONNECT timeout ends with the tunnel's set-up
      callback?.(null, socket);
    };
    // hpagent's createConnection has the callback signature of http.Agent's, which @types/node does not declare.
    const connect = HttpsProxyAgent.prototype.createConnection as unknown as (this: HttpsProxyAgent, o: object, cb: typeof done) => void;
    connect.call(this, { ...options, timeout: this.connectTimeoutMs }, done);
    return undefined;
  }
}

/** Sends a plain-HTTP request to the proxy with the absolute URL as its target (RFC 9112 absolute-form). */
export function requestViaHttpProxy(
  proxy: URL,
  agent: http.Agent,
  url: URL,
  options: http.RequestOptions,
  callback?: (res: http.IncomingMessage) => void,
): http.ClientRequest {
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
