// The HttpTransport port: what the Omaha client and the payload download need from HTTP (a POST with
// a capped body, a streaming GET), and the transport's own error type. The adapter is GotTransport.

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface HttpPostOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Stop reading the body after this many bytes (the response is then marked truncated). */
  maxResponseBytes: number;
  /** Time allowed from sending the request until the response headers arrive. */
  responseTimeoutMs?: number;
  /** Time allowed for the whole exchange, body included. */
  totalTimeoutMs?: number;
}

export interface HttpPostResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** At most maxResponseBytes + 1 bytes. */
  body: Buffer;
  /** True when the server sent more than maxResponseBytes. */
  truncated: boolean;
}

export interface BasicCredentials {
  username: string;
  password: string;
}

export interface HttpGetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Time allowed from sending the request until the response headers arrive. */
  responseTimeoutMs?: number;
  /** Sent only to https: URLs, and dropped on a redirect to anything else. */
  credentials?: BasicCredentials | undefined;
}

export interface HttpStreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  /** The body; destroy it to drop the connection. Errors while reading are the transport's (network) errors. */
  body: Readable;
}

/** The port. Non-2xx statuses are returned, not thrown; network failures throw HttpTransportError. */
export interface HttpTransport {
  post(url: string, body: string, options: HttpPostOptions): Promise<HttpPostResponse>;
  get(url: string, options: HttpGetOptions): Promise<HttpStreamResponse>;
}

export type HttpFailureKind = 'connect' | 'timeout' | 'redirects' | 'tls' | 'proxy' | 'network' | 'aborted';

/** A request that got no usable HTTP response: `kind` says why; the message names the URL and the cause. */
export class HttpTransportError extends Error {
  override readonly name = 'HttpTransportError';
  constructor(
    readonly kind: HttpFailureKind,
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
