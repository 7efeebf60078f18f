import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { FleetLockClient } from '../../src/lock/fleet-lock-client.ts';
import { startFleetLockServer, type FleetLockServer } from './fleet-lock-server.ts';

let server: FleetLockServer;
beforeAll(async () => {
  server = await startFleetLockServer(1);
});
afterAll(async () => {
  await server?.close();
});

describe('FleetLockClient against a FleetLock server', () => {
  it('speaks the protocol: header, client_params, group "default" for the default lock', async () => {
    const a = new FleetLockClient({ baseUrl: server.url, id: 'machine-a', group: '' });
    await a.preReboot();
    expect(server.requests.at(-1)).toEqual({
      path: '/v1/pre-reboot',
      body: { client_params: { id: 'machine-a', node_uuid: 'machine-a', group: 'default' } },
      protocolHeader: 'true',
    });
    expect([...(server.holders.get('default') ?? [])]).toEqual(['machine-a']);
    await a.preReboot(); // taking a slot it holds again is fine
    await a.steadyState();
    expect([...(server.holders.get('default') ?? [])]).toEqual([]);
  });

  it("reports the server's refusal with its kind and value", async () => {
    const a = new FleetLockClient({ baseUrl: server.url.replace(/\/$/, ''), id: 'a', group: 'workers' });
    const b = new FleetLockClient({ baseUrl: server.url, id: 'b', group: 'workers' });
    await a.preReboot();
    await expect(b.preReboot()).rejects.toMatchObject({
      code: 'ERR_LOCK_UNAVAILABLE',
      message: expect.stringContaining('failed_lock: semaphore currently full'),
    });
    await a.steadyState();
    await b.preReboot();
    await b.steadyState();
  });

  it('treats an unreachable server or a bare 5xx as a store error', async () => {
    await expect(new FleetLockClient({ baseUrl: 'http://127.0.0.1:1/', id: 'a', group: '' }).preReboot()).rejects.toMatchObject({
      code: 'ERR_LOCK_STORE',
      message: expect.stringContaining('"http://127.0.0.1:1/v1/pre-reboot"'),
    });
    const broken = createServer((_req, res) => res.writeHead(503).end('down for maintenance'));
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', () => r()));
    const address = broken.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/prefix/`;
    try {
      await expect(new FleetLockClient({ baseUrl: url, id: 'a', group: '' }).steadyState()).rejects.toMatchObject({
        code: 'ERR_LOCK_STORE',
        message: expect.stringContaining('prefix/v1/steady-state'),
      });
    } finally {
      await new Promise<void>((r) => broken.close(() => r()));
    }
  });

  it('takes any 2xx as success, as zincati does (204, 202), and not 3xx', async () => {
    for (const [status, ok] of [
      [204, true],
      [202, true],
      [299, true],
      [304, false],
    ] as const) {
      const srv = createServer((_req, res) => res.writeHead(status).end());
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      const address = srv.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
      try {
        const call = new FleetLockClient({ baseUrl: url, id: 'a', group: 'workers' }).preReboot();
        if (ok) await expect(call).resolves.toBeUndefined();
        else await expect(call).rejects.toMatchObject({ code: 'ERR_LOCK_UNAVAILABLE' });
      } finally {
        await new Promise<void>((r) => srv.close(() => r()));
      }
    }
  });

  it("checks the group against FleetLock's rule ^[a-zA-Z0-9.-]+$ before asking anything", () => {
    for (const group of ['workers', 'zone-a.rack1', 'A9']) expect(() => new FleetLockClient({ baseUrl: server.url, id: 'a', group })).not.toThrow();
    for (const group of ['has space', 'under_score', 'slash/x', 'ümlaut']) {
      expect(() => new FleetLockClient({ baseUrl: server.url, id: 'a', group })).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_VALUE', message: expect.stringContaining(`LOCKSMITHD_GROUP "${group}"`) }),
      );
    }
  });
});
