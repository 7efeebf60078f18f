// GotTransport: the HttpTransport adapter on got. Connect timeout, no automatic retries (callers
// decide), no decompression (byte ranges stay raw), TLS with the system CAs plus SERVER_CA_FILE,
// proxies from the environment, credentials only over HTTPS (also across redirects). A GET of a plain
// http:// URL without proxy is read by a raw socket with large reads (raw-http-get.ts), a POST to one
// goes by Node's own client (plain-http-post.ts); got, loaded only then, answers whatever those do not
// handle (https, proxies, redirects of a POST, chunked bodies of a GET).

import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { BeforeRedirectHook, Got, OptionsInit, Request as GotRequest } from 'got';
import { UpdateEngineError } from '../errors.ts';
import {
  HttpTransportError,
  type HttpFailureKind,
  type HttpGetOptions,
  type HttpPostOptions,
  type HttpPostResponse,
  type HttpStreamResponse,
  type HttpTransport,
} from './http-transport.ts';
import { ProxyTunnelAgent, requestViaHttpProxy } from './proxy-agent.ts';
import { proxyForUrl } from './proxy.ts';
import { plainPost, REDIRECT_STATUSES } from './plain-http-post.ts';
import { RAW_READ_BYTES, rawGet, rawGetApplies } from './raw-http-get.ts';
import { RecycledMemory } from '../io/recycled-memory.ts';
import { hostPort, splitUrlCredentials } from './credential-policy.ts';
import { VERSION } from '../version.ts';

/** Where Debian/Ubuntu and Fedora/RHEL keep the system trust store. */
export const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

export interface GotTransportOptions {
  /** Connect (and TLS handshake) timeout; default 30 s. */
  connectTimeoutMs?: number;
  /** Extra PEM CA bundle (SERVER_CA_FILE), trusted in addition to the system CAs. */
  caFile?: string | undefined;
  /** System bundles to add to Node's built-in roots; default SYSTEM_CA_BUNDLES (missing ones are skipped). */
  systemCaBundles?: string[];
  /** Where HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  userAgent?: string;
  maxRedirects?: number;
}

/** Node's roots + the readable system bundles + the extra CA file (ERR_CONFIG_FILE when that one is unreadable). */
export async function loadCaBundle(caFile: string | undefined, systemBundles: string[] = SYSTEM_CA_BUNDLES): Promise<string[]> {
  const cas = [...tls.rootCertificates];
  for (const path of systemBundles) {
    try {
      cas.push(await readFile(path, 'utf8'));
    } catch {
      // not on this distribution
    }
  }
  if (caFile !== undefined) {
    let pem: string;
    try {
      pem = await readFile(caFile, 'utf8');
    } catch (e) {
      throw new UpdateEngineError('ERR_CONFIG_FILE', `Cannot read SERVER_CA_FILE "${caFile}": ${(e as Error).message}`, { cause: e });
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UpdateEngineError('ERR_CONFIG_VALUE', `SERVER_CA_FILE "${caFile}" holds no PEM certificate`);
    cas.push(pem);
  }
  return cas;
}

/** The HttpTransportError a got error wraps (one our proxy agent threw), if any. */
function wrappedTransportError(e: unknown): HttpTransportError | undefined {
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  return cause instanceof HttpTransportError ? cause : undefined;
}

function failureKind(e: unknown): HttpFailureKind {
  if (e instanceof HttpTransportError) return e.kind;
  const cause = wrappedTransportError(e);
  if (cause) return cause.kind;
  const code = String((e as { code?: unknown }).code ?? ''); // a DOMException's code is a number
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ERR_TOO_MANY_REDIRECTS') return 'redirects';
  if (code === 'ERR_ABORTED' || code === 'ABORT_ERR' || (e as Error).name === 'AbortError') return 'aborted';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'connect';
  if (code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('SELF_SIGNED') || code.startsWith('UNABLE_TO') || code.startsWith('ERR_SSL'))
    return 'tls';
  return 'network';
}

/** Wraps anything a got request threw into an HttpTransportError naming the URL. */
export function toTransportError(e: unknown, url: string): HttpTransportError {
  if (e instanceof HttpTransportError) return e;
  const kind = failureKind(e);
  const inner = wrappedTransportError(e)?.message ?? (e as Error).message;
  const code = (e as { code?: string }).code;
  return new HttpTransportError(kind, url, `${inner}${code && !inner.includes(code) ? ` (${code})` : ''}`, { cause: e });
}

/** A redirect hook: credentials never follow a redirect to http:// or to another host:port (issue 14). */
function dropCredentialsLeaving(origin: string | undefined): BeforeRedirectHook {
  return (next) => {
    const to = next.url as URL | undefined;
    if (to?.protocol !== 'https:' || hostPort(to) !== origin) {
      delete next.headers.authorization;
      next.username = '';
      next.password = '';
    }
  };
}

export class GotTransport implements HttpTransport {
  /** got, loaded at the first request that needs it (https, a proxy, a redirect, a chunked body): about 15 MiB. */
  private got: Promise<Got> | undefined;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly proxyAgents = new Map<string, { http: http.Agent; https: ProxyTunnelAgent }>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly connectTimeoutMs: number;
  private readonly userAgent: string;
  private readonly maxRedirects: number;
  /** The raw reader's read buffers: a few kept for reuse across its requests (an apply has up to 10 in use at once). */
  private readonly readMemory = new RecycledMemory(RAW_READ_BYTES, 12);

  private constructor(
    private readonly cas: string[],
    options: GotTransportOptions,
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({ keepAlive: true });
    this.env = options.env ?? process.env;
    this.userAgent = options.userAgent ?? `update-engine/${VERSION}`;
    this.maxRedirects = options.maxRedirects ?? 10;
  }

  private client(): Promise<Got> {
    const { connectTimeoutMs, env } = this;
    this.got ??= import('got').then(({ default: got }) =>
      got.extend({
        retry: { limit: 0 },
        decompress: false,
        throwHttpErrors: false,
        followRedirect: true,
        maxRedirects: this.maxRedirects,
        timeout: { lookup: connectTimeoutMs, connect: connectTimeoutMs, secureConnect: connectTimeoutMs },
        https: { certificateAuthority: this.cas },
        agent: { http: this.httpAgent, https: this.httpsAgent },
        headers: { 'user-agent': this.userAgent },
        request: (url, requestOptions, callback) => {
          const proxy = proxyForUrl(url, env);
          if (!proxy) return undefined;
          const agents = this.agentsFor(proxy, connectTimeoutMs);
          if (url.protocol === 'https:') return https.request(url, { ...requestOptions, agent: agents.https }, callback as (res: http.IncomingMessage) => void);
          return requestViaHttpProxy(proxy, agents.http, url, requestOptions, callback as (res: http.IncomingMessage) => void);
        },
      }),
    );
    return this.got;
  }

  /** Builds a transport: loads the CA bundle (ERR_CONFIG_FILE / ERR_CONFIG_VALUE for a bad SERVER_CA_FILE). */
  static async create(options: GotTransportOptions = {}): Promise<GotTransport> {
    return new GotTransport(await loadCaBundle(options.caFile, options.systemCaBundles), options);
  }

  private agentsFor(proxy: URL, connectTimeoutMs: number): { http: http.Agent; https: ProxyTunnelAgent } {
    const key = proxy.href;
    let agents = this.proxyAgents.get(key);
    if (!agents) {
      agents = { http: new http.Agent({ keepAlive: true }), https: new ProxyTunnelAgent(proxy, connectTimeoutMs, { keepAlive: true, ca: this.cas }) };
      this.proxyAgents.set(key, agents);
    }
    return agents;
  }

  /** Starts a request and resolves once the response headers are in. */
  private async start(url: string, options: OptionsInit, method: 'GET' | 'POST'): Promise<{ request: GotRequest; response: http.IncomingMessage }> {
    const client = await this.client();
    return new Promise((resolve, reject) => {
      // got keeps its abort listener on the signal after the request ended, and an abort then destroys
      // the finished request with nobody listening (an uncaught error), and long-lived signals gather
      // listeners. So each request gets its own signal, linked to the caller's until the request closes.
      const outer = options.signal as AbortSignal | undefined;
      const inner = new AbortController();
      const forward = () => inner.abort(outer?.reason);
      if (outer?.aborted) forward();
      else outer?.addEventListener('abort', forward, { once: true });
      let request: GotRequest;
      try {
        request = client.stream(url, { ...options, ...(outer ? { signal: inner.signal } : {}), method, isStream: true });
      } catch (e) {
        outer?.removeEventListener('abort', forward);
        reject(toTransportError(e, url));
        return;
      }
      const unlink = () => outer?.removeEventListener('abort', forward);
      request.once('close', unlink);
      request.once('end', unlink);
      // An abort after the consumer is done destroys the request with nobody listening; the consumer
      // sees errors through its own listeners (async iteration, pipeline), so this one only absorbs.
      request.on('error', () => undefined);
      const onError = (e: unknown) => reject(toTransportError(e, url));
      request.once('error', onError);
      request.once('response', (response: http.IncomingMessage) => {
        request.off('error', onError);
        resolve({ request, response });
      });
    });
  }

  async post(target: string, body: string, options: HttpPostOptions): Promise<HttpPostResponse> {
    // A password in an http:// SERVER URL would travel in clear text: it is not sent (issue 14).
    const url = target.startsWith('http:') ? splitUrlCredentials(target).url : target;
    const plain = URL.canParse(url) ? new URL(url) : undefined;
    if (plain && rawGetApplies(plain) && !proxyForUrl(plain, this.env)) {
      const answer = await plainPost({
        url: plain,
        body,
        headers: { 'user-agent': this.userAgent, ...options.headers },
        agent: this.httpAgent,
        signal: options.signal,
        maxResponseBytes: options.maxResponseBytes,
        connectTimeoutMs: this.connectTimeoutMs,
        responseTimeoutMs: options.responseTimeoutMs,
        totalTimeoutMs: options.totalTimeoutMs,
        toError: (e) => toTransportError(e, url),
      });
      if (answer) return answer;
    }
    const { request, response } = await this.start(
      url,
      {
        body,
        headers: options.headers ?? {},
        signal: options.signal,
        timeout: {
          ...(options.responseTimeoutMs ? { response: options.responseTimeoutMs } : {}),
          ...(options.totalTimeoutMs ? { request: options.totalTimeoutMs } : {}),
        },
        hooks: { beforeRedirect: [dropCredentialsLeaving(hostPort(url))] },
      },
      'POST',
    );
    const chunks: Buffer[] = [];
    let total = 0;
    let truncated = false;
    try {
      for await (const chunk of request as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        total += chunk.length;
        if (total > options.maxResponseBytes) {
          truncated = true;
          break;
        }
      }
    } catch (e) {
      throw toTransportError(e, url);
    } finally {
      if (truncated) request.destroy();
    }
    const all = Buffer.concat(chunks);
    return {
      statusCode: response.statusCode ?? 0,
      headers: response.headers,
      body: truncated ? all.subarray(0, options.maxResponseBytes + 1) : all,
      truncated,
    };
  }

  async get(url: string, options: HttpGetOptions): Promise<HttpStreamResponse> {
    if (!URL.canParse(url)) return this.gotGet(url, options); // got says what is wrong with it
    return this.rawGet(url, options);
  }

  private async gotGet(url: string, options: HttpGetOptions): Promise<HttpStreamResponse> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const credentials = options.credentials;
    const origin = hostPort(url);
    if (credentials && new URL(url).protocol === 'https:') {
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    const { request, response } = await this.start(
      url,
      {
        headers,
        signal: options.signal,
        timeout: options.responseTimeoutMs ? { response: options.responseTimeoutMs } : {},
        hooks: { beforeRedirect: [dropCredentialsLeaving(origin)] },
      },
      'GET',
    );
    return {
      statusCode: response.statusCode ?? 0,
      headers: response.headers,
      url: (response as http.IncomingMessage & { url?: string }).url || url,
      body: request,
    };
  }

  /**
   * The raw socket's answer for a plain http:// GET without proxy, following redirects among such URLs
   * (got takes over at the first URL the raw reader does not take: https, proxy, a chunked body).
   */
  private async rawGet(url: string, options: HttpGetOptions): Promise<HttpStreamResponse> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const at = new URL(current);
      const response = rawGetApplies(at) && !proxyForUrl(at, this.env) ? await this.rawAttempt(at, headers, options) : undefined;
      // Credentials never follow a redirect from plain HTTP (got would not send them either).
      if (!response) return this.gotGet(current, current === url ? options : { ...options, credentials: undefined });
      const location = response.headers.location;
      if (!REDIRECT_STATUSES.has(response.statusCode) || location === undefined) return response;
      response.body.destroy();
      if (redirects >= this.maxRedirects) throw new HttpTransportError('redirects', url, `Redirected more than ${this.maxRedirects} times`);
      current = new URL(location, current).href;
    }
  }

  private rawAttempt(url: URL, headers: Record<string, string>, options: HttpGetOptions): Promise<HttpStreamResponse | undefined> {
    return rawGet({
      url,
      headers,
      signal: options.signal,
      memory: this.readMemory,
      connectTimeoutMs: this.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      toError: (e) => toTransportError(e, url.href),
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const agents of this.proxyAgents.values()) {
      agents.http.destroy();
      agents.https.destroy();
    }
  }
}
