// The METRICS_LISTEN endpoint: Prometheus text at /metrics (GET and HEAD; 405 for other methods,
// 404 elsewhere) over HTTP on HOST:PORT or on a Unix socket (stale socket removed, mode 0660).

import { once } from 'node:events';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { clearStaleSocket } from '../platform/unix-socket.ts';
import { dirname } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { UpdateEngineError } from '../errors.ts';
import type { Logger } from '../platform/logger.ts';

/** Mode of a metrics Unix socket: the daemon's user and group. */
export const METRICS_SOCKET_MODE = 0o660;

export type MetricsListen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface MetricsServerOptions {
  /** METRICS_LISTEN: `HOST:PORT` (`[::1]:PORT` for IPv6; port 0 picks a free one) or an absolute socket path. */
  listen: string;
  registry: Registry;
  logger: Logger;
}

export interface MetricsServer {
  /** Where it listens: `HOST:PORT` with the real port, or the socket path. */
  readonly address: string;
  /** Stops listening, closes open connections and removes the socket file (if still ours). */
  close(): Promise<void>;
}

function listenError(listen: string, why: string, cause?: unknown): UpdateEngineError {
  return new UpdateEngineError('ERR_CONFIG_VALUE', `Cannot serve metrics on METRICS_LISTEN "${listen}": ${why}`, { cause });
}

/** Parses METRICS_LISTEN (the settings schema has checked its shape already; this re-checks). */
export function parseMetricsListen(listen: string): MetricsListen {
  const text = listen.trim();
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw listenError(listen, 'expected HOST:PORT (e.g. 127.0.0.1:9105) or an absolute Unix socket path');
  return { kind: 'tcp', host: m[1] ?? (m[2] as string), port };
}

async function respond(req: IncomingMessage, res: ServerResponse, registry: Registry, logger: Logger): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
  if (path !== '/metrics') {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Only GET and HEAD are allowed\n');
    return;
  }
  let body: string;
  try {
    body = await registry.metrics();
  } catch (e) {
    logger.error({ err: e }, 'Cannot collect the metrics');
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Cannot collect the metrics\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Prepares a socket path: refuses a non-socket or a live socket, removes a stale one. */
async function clearSocketPath(listen: string, path: string, logger: Logger): Promise<void> {
  let cleared: 'absent' | 'removed';
  try {
    cleared = await clearStaleSocket(path);
  } catch (e) {
    throw listenError(listen, (e as Error).message, e);
  }
  if (cleared === 'removed') logger.info({ socketPath: path }, 'removed a stale metrics socket');
}

/** Starts the metrics endpoint; rejects with ERR_CONFIG_VALUE when the address cannot be used. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { listen, registry, logger } = options;
  const where = parseMetricsListen(listen);
  const server: Server = createServer((req, res) => {
    respond(req, res, registry, logger).catch((e: unknown) => {
      logger.error({ err: e }, 'Metrics request failed');
      res.destroy();
    });
  });
  if (where.kind === 'unix') {
    await mkdir(dirname(where.path), { recursive: true, mode: 0o755 }).catch((e: unknown) => {
      throw listenError(listen, (e as Error).message, e);
    });
    await clearSocketPath(listen, where.path, logger);
  }
  try {
    if (where.kind === 'unix') server.listen(where.path);
    else server.listen(where.port, where.host);
    await once(server, 'listening');
  } catch (e) {
    server.close();
    throw listenError(listen, (e as Error).message, e);
  }
  let address: string;
  let inode = 0;
  if (where.kind === 'unix') {
    address = where.path;
    try {
      await chmod(where.path, METRICS_SOCKET_MODE);
      inode = (await stat(where.path)).ino;
    } catch (e) {
      server.close();
      throw listenError(listen, (e as Error).message, e);
    }
  } else {
    const info = server.address() as AddressInfo;
    address = info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
  }
  logger.info({ address }, 'metrics listening at /metrics');
  return {
    address,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      if (where.kind === 'unix') {
        const current = await stat(where.path).catch(() => undefined);
        if (current && current.ino === inode) await rm(where.path, { force: true });
      }
    },
  };
}
