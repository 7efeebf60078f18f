// Tests of the metrics endpoint: a real server on 127.0.0.1:0 and on a Unix socket, scraped and
// parsed; 404/405/HEAD; stale, live and non-socket paths; an address in use; close with keep-alive.

import { mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { createEngineMetrics } from '../../src/daemon/metrics.ts';
import { parseMetricsListen, startMetricsServer, type MetricsServer } from '../../src/daemon/metrics-server.ts';
import { StatusMachine } from '../../src/daemon/status.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { httpRequest, scrape, sampleValue } from './metrics-scrape.ts';

let dir: string;
const servers: MetricsServer[] = [];
const logger = silentLogger();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-metrics-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

function engineMetrics() {
  return createEngineMetrics({ settings: settingsSchema.parse({ version: '3.4.5' }), processMetrics: false });
}

async function start(listen: string, registry = engineMetrics().registry): Promise<MetricsServer> {
  const server = await startMetricsServer({ listen, registry, logger });
  servers.push(server);
  return server;
}

async function rejection(p: Promise<unknown>): Promise<UpdateEngineError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpdateEngineError);
  return e as UpdateEngineError;
}

describe('parseMetricsListen', () => {
  it.each([
    ['127.0.0.1:9105', { kind: 'tcp', host: '127.0.0.1', port: 9105 }],
    ['[::1]:0', { kind: 'tcp', host: '::1', port: 0 }],
    ['localhost:80', { kind: 'tcp', host: 'localhost', port: 80 }],
    ['/run/update-engine/metrics.sock', { kind: 'unix', path: '/run/update-engine/metrics.sock' }],
  ])('%s', (text, expected) => {
    expect(parseMetricsListen(text)).toEqual(expected);
  });

  it.each(['0.0.0.0', '127.0.0.1:70000', 'metrics.sock', 'example.com:9105'])('refuses %s with ERR_CONFIG_VALUE', (text) => {
    expect(() => parseMetricsListen(text)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_VALUE', message: expect.stringContaining(`METRICS_LISTEN "${text}"`) }),
    );
  });
});

describe('startMetricsServer over TCP', () => {
  it('serves the engine metrics at /metrics on 127.0.0.1 with values that follow the calls', async () => {
    const { metrics, registry, observeStatus } = engineMetrics();
    const machine = new StatusMachine();
    observeStatus(machine);
    const server = await start('127.0.0.1:0', registry);
    expect(server.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const reply = await httpRequest(server.address);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    let e = await scrape(server.address);
    expect(sampleValue(e, 'update_engine_info', { version: '3.4.5' })).toBe(1);
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe(0);
    metrics.bytesWritten(12_345);
    metrics.error('ERR_DOWNLOAD_TRANSFER');
    machine.transition('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    e = await scrape(server.address);
    expect(sampleValue(e, 'update_engine_bytes_written_total')).toBe(12_345);
    expect(sampleValue(e, 'update_engine_errors_total', { code: 'ERR_DOWNLOAD_TRANSFER' })).toBe(1);
    expect(sampleValue(e, 'update_engine_status', { status: 'UPDATE_STATUS_CHECKING_FOR_UPDATE' })).toBe(1);
    expect(sampleValue(e, 'update_engine_status', { status: 'UPDATE_STATUS_IDLE' })).toBe(0);
  });

  it('answers HEAD without a body, 405 for other methods on /metrics, 404 elsewhere', async () => {
    const server = await start('127.0.0.1:0');
    const head = await httpRequest(server.address, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    const post = await httpRequest(server.address, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    for (const path of ['/', '/metrics/', '/metricsx', '/favicon.ico']) expect((await httpRequest(server.address, path)).status, path).toBe(404);
    expect((await httpRequest(server.address, '/metrics?name[]=x')).status).toBe(200);
  });

  it('refuses an address in use with ERR_CONFIG_VALUE naming it', async () => {
    const first = await start('127.0.0.1:0');
    const e = await rejection(startMetricsServer({ listen: first.address, registry: engineMetrics().registry, logger }));
    expect(e.code).toBe('ERR_CONFIG_VALUE');
    expect(e.message).toContain(`Cannot serve metrics on METRICS_LISTEN "${first.address}"`);
    expect(e.message).toMatch(/EADDRINUSE/);
  });

  it('closes even while a client keeps its connection alive, and then refuses connections', async () => {
    const server = await startMetricsServer({ listen: '127.0.0.1:0', registry: engineMetrics().registry, logger });
    const agent = new Agent({ keepAlive: true });
    const [host, port] = [server.address.split(':')[0], Number(server.address.split(':')[1])];
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
      get({ host, port, path: '/metrics', agent }, resolve).on('error', reject),
    );
    res.resume();
    await once(res, 'end');
    await server.close();
    await expect(httpRequest(server.address)).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });
});

describe('startMetricsServer on a Unix socket', () => {
  it('serves /metrics on the socket with mode 0660 and removes it on close', async () => {
    const { metrics, registry } = engineMetrics();
    const path = join(dir, 'metrics.sock');
    const server = await startMetricsServer({ listen: path, registry, logger });
    expect(server.address).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    metrics.bytesDownloaded(777);
    expect(sampleValue(await scrape(path), 'update_engine_bytes_downloaded_total')).toBe(777);
    expect((await httpRequest(path, '/other')).status).toBe(404);
    await server.close();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('replaces a stale socket, refuses a live one and a path that is no socket', async () => {
    const path = join(dir, 'metrics.sock');
    // A stale socket: bound by a server that is gone (its file moved into place after it closed).
    const old = createServer().listen(join(dir, 'old.sock'));
    await once(old, 'listening');
    await rename(join(dir, 'old.sock'), path);
    await new Promise<void>((resolve) => old.close(() => resolve()));
    expect((await stat(path)).isSocket()).toBe(true);
    const server = await start(path);
    expect((await httpRequest(path)).status).toBe(200);

    const live = await rejection(startMetricsServer({ listen: path, registry: engineMetrics().registry, logger }));
    expect(live.message).toBe(`Cannot serve metrics on METRICS_LISTEN "${path}": another process is listening on it`);
    expect((await httpRequest(server.address)).status).toBe(200);

    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'x');
    const notSocket = await rejection(startMetricsServer({ listen: file, registry: engineMetrics().registry, logger }));
    expect(notSocket.code).toBe('ERR_CONFIG_VALUE');
    expect(notSocket.message).toContain('the path exists and is not a socket');
  });
});
