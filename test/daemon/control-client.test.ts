// Tests of the control client against a real control server with a fake handler, and its errors
// when the daemon is not running, the socket is stale, or the daemon misbehaves.

import { once } from 'node:events';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/daemon/control-client.ts';
import { ControlServer } from '../../src/daemon/control-server.ts';
import { FakeControlHandler } from './fake-control-handler.ts';

let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-cli-'));
  chmodSync(dir, 0o755);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** The primary group of this process, so that the server needs no root to set it. */
const OWN_GROUP = String(process.getgid?.() ?? 0);

async function setup(handler = new FakeControlHandler()) {
  const socketPath = join(dir, 'control.sock');
  const server = await ControlServer.listen({ socketPath, groupName: OWN_GROUP, handler });
  cleanups.push(() => server.close());
  const client = await ControlClient.connect(socketPath);
  cleanups.push(() => client.close());
  return { server, client, handler, socketPath };
}

/** A raw server that answers every line with `reply(line)` (or closes when it returns undefined). */
let rawCount = 0;
async function rawServer(reply: (line: string, socket: Socket) => string | undefined): Promise<string> {
  const socketPath = join(dir, `raw-${rawCount++}.sock`);
  const server = createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n').filter(Boolean)) {
        const answer = reply(line, socket);
        if (answer === undefined) socket.destroy();
        else socket.write(answer);
      }
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return socketPath;
}

describe('ControlClient', () => {
  it('gets the status, starts a check, follows it with watch, and resets', async () => {
    const { client, handler } = await setup();
    expect((await client.status()).status).toBe('UPDATE_STATUS_IDLE');
    const seen: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const first = await client.watch((s) => {
      const name = s.status.slice('UPDATE_STATUS_'.length);
      if (seen.at(-1) !== name) seen.push(name);
      if (s.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') done();
    });
    expect(first.status).toBe('UPDATE_STATUS_IDLE');
    expect(await client.check()).toEqual({ started: true, message: 'Update check started' });
    expect(await client.check()).toEqual({ started: false, message: 'An update check is already running' });
    await finished;
    expect(seen).toEqual(['IDLE', 'CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT']);
    const reset = await client.reset();
    expect(reset.snapshot.status).toBe('UPDATE_STATUS_IDLE');
    expect(handler.resets).toBe(1);
  });

  it('rejects with the daemon error code and message', async () => {
    const { client } = await setup();
    expect((await client.reset()).message).toBe('Nothing to reset: no update is pending');
    await client.check();
    // The fake cycle may already have taken its first step when the reset arrives (a loaded machine).
    await expect(client.reset()).rejects.toMatchObject({
      code: 'ERR_UPDATE_IN_PROGRESS',
      message: expect.stringMatching(/^Cannot reset while an update runs \(status UPDATE_STATUS_(IDLE|CHECKING_FOR_UPDATE)\)$/),
    });
  });

  it('says the daemon is not running when the socket is missing or stale, quoting the path', async () => {
    const missing = join(dir, 'none.sock');
    await expect(ControlClient.connect(missing)).rejects.toMatchObject({
      code: 'ERR_CONTROL_SOCKET',
      message: `Cannot connect to the update daemon at "${missing}": the socket does not exist (is the update-engine daemon running?)`,
    });
    const stale = join(dir, 'stale.sock');
    const s = createServer();
    s.listen(join(dir, 'tmp.sock'));
    await once(s, 'listening');
    renameSync(join(dir, 'tmp.sock'), stale);
    await new Promise<void>((r) => s.close(() => r()));
    await expect(ControlClient.connect(stale)).rejects.toThrow(`"${stale}": connection refused (the daemon is not running; the socket is stale)`);
    const file = join(dir, 'file');
    writeFileSync(file, '');
    await expect(ControlClient.connect(file)).rejects.toMatchObject({ code: 'ERR_CONTROL_SOCKET' });
  });

  it('fails pending requests when the daemon closes the connection, and reports who closed it', async () => {
    const socketPath = await rawServer(() => undefined);
    const client = await ControlClient.connect(socketPath);
    await expect(client.status()).rejects.toThrow(`The update daemon closed the connection on "${socketPath}"`);
    expect(await client.closed).toBe('remote');
    const { client: other } = await setup();
    other.close();
    expect(await other.closed).toBe('local');
  });

  it('rejects an invalid response from the daemon', async () => {
    const socketPath = await rawServer((line) => {
      const { id } = JSON.parse(line) as { id: number };
      return `${JSON.stringify({ id, ok: true, result: { status: 'UPDATE_STATUS_BOGUS' } })}\n`;
    });
    const client = await ControlClient.connect(socketPath);
    cleanups.push(() => client.close());
    await expect(client.status()).rejects.toMatchObject({ code: 'ERR_CONTROL_SOCKET' });
    const garbage = await rawServer(() => 'not json\n');
    const c2 = await ControlClient.connect(garbage);
    cleanups.push(() => c2.close());
    await expect(c2.check()).rejects.toThrow(/Invalid response on the control socket \(not JSON\)/);
  });
});
