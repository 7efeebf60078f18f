// Tests of the control socket server: file mode, owner and group, who may connect (run as nobody with
// and without a temporary group, via setpriv), stale sockets, and the protocol against a fake handler.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ControlServer, lookupGroupId } from '../../src/daemon/control-server.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { FakeControlHandler } from './fake-control-handler.ts';

const GROUP = `uectl${process.pid}`;
let gid: number;
let dir: string;
const servers: ControlServer[] = [];

beforeAll(() => {
  requireRoot('creating a temporary group and running clients as nobody');
  requireTool('setpriv');
  execFileSync('groupadd', [GROUP]);
  gid = Number(execFileSync('getent', ['group', GROUP], { encoding: 'utf8' }).split(':')[2]);
});
afterAll(() => {
  spawnSync('groupdel', [GROUP]);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-ctl-'));
  chmodSync(dir, 0o755); // let nobody reach the socket; the socket's own mode decides
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(handler = new FakeControlHandler(), socketPath = join(dir, 'run', 'control.sock')) {
  const server = await ControlServer.listen({ socketPath, groupName: GROUP, handler });
  servers.push(server);
  return { server, handler, socketPath };
}

/** Tries to connect as uid/gid 65534 (nobody), with the given supplementary groups. */
function connectAsNobody(socketPath: string, groups: number[]): string {
  const script =
    "require('net').createConnection(process.argv[1]).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(1)})";
  const groupArgs = groups.length > 0 ? [`--groups=${groups.join(',')}`] : ['--clear-groups'];
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', ...groupArgs, process.execPath, '-e', script, socketPath], { encoding: 'utf8' });
  return r.stdout.trim();
}

/** Sends raw lines and collects the response lines until `count` arrived. */
async function exchange(socketPath: string, lines: string[], count: number): Promise<Array<Record<string, unknown>>> {
  const socket = createConnection(socketPath);
  await once(socket, 'connect');
  const received: Array<Record<string, unknown>> = [];
  let buffer = '';
  const done = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const p of parts) received.push(JSON.parse(p) as Record<string, unknown>);
      if (received.length >= count) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.write(lines.join(''));
  await done;
  socket.destroy();
  return received;
}

describe('ControlServer: the socket file', () => {
  it('is a socket with mode 0660, owner root and CONTROL_GROUP, in a parent created 0755', async () => {
    const { socketPath } = await serve();
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect([st.uid, st.gid]).toEqual([0, gid]);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o755);
  });

  it('lets a member of CONTROL_GROUP connect, and nobody else', async () => {
    const { socketPath } = await serve();
    expect(connectAsNobody(socketPath, [gid])).toBe('connected');
    expect(connectAsNobody(socketPath, [])).toBe('EACCES');
  });

  it('replaces a stale socket, refuses a live one and a non-socket, and removes its socket on close', async () => {
    const socketPath = join(dir, 'control.sock');
    const old = createServer();
    old.listen(join(dir, 'old.sock'));
    await once(old, 'listening');
    renameSync(join(dir, 'old.sock'), socketPath);
    await new Promise<void>((r) => old.close(() => r()));
    expect(statSync(socketPath).isSocket()).toBe(true); // stale: nobody listens

    const { server } = await serve(undefined, socketPath);
    await expect(serve(undefined, socketPath)).rejects.toThrow(`Cannot serve the control socket "${socketPath}": another daemon is listening on it`);
    await server.close();
    expect(existsSync(socketPath)).toBe(false);

    writeFileSync(socketPath, 'not a socket');
    await expect(serve(undefined, socketPath)).rejects.toThrow('the path exists and is not a socket; remove it');
  });

  it('looks groups up by name, accepts a numeric gid, and rejects an unknown group', async () => {
    expect(await lookupGroupId(GROUP)).toBe(gid);
    expect(await lookupGroupId('4242')).toBe(4242);
    const groupFile = join(dir, 'group');
    writeFileSync(groupFile, 'root:x:0:\nops:x:1234:alice,bob\n');
    expect(await lookupGroupId('ops', groupFile)).toBe(1234);
    await expect(lookupGroupId('nope', groupFile)).rejects.toMatchObject({
      code: 'ERR_CONFIG_VALUE',
      message: `CONTROL_GROUP "nope" is not a group in "${groupFile}"`,
    });
  });
});

describe('ControlServer: the protocol', () => {
  it('answers status, check and reset with their ids', async () => {
    const { socketPath, handler } = await serve(new FakeControlHandler({ status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', newVersion: '2.0.0' }));
    handler.script = 'no-update';
    const replies = await exchange(socketPath, ['{"id":1,"method":"status"}\n', '{"id":2,"method":"reset"}\n'], 2);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)).toMatchObject({ ok: true, result: { status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', newVersion: '2.0.0' } });
    expect(byId.get(2)).toMatchObject({ ok: true, result: { message: expect.stringContaining('undone'), snapshot: { status: 'UPDATE_STATUS_IDLE' } } });
    const [check] = await exchange(socketPath, ['{"id":3,"method":"check"}\n'], 1);
    expect(check).toEqual({ id: 3, ok: true, result: { started: true, message: 'Update check started' } });
    expect(handler.checks).toBe(1);
  });

  it('streams the current snapshot and then every change to a watcher, and unsubscribes when it leaves', async () => {
    const { socketPath, handler } = await serve();
    const socket = createConnection(socketPath);
    await once(socket, 'connect');
    const statuses: string[] = [];
    let buffer = '';
    const finished = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        buffer += d.toString('utf8');
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        for (const p of parts) {
          const msg = JSON.parse(p) as { id: number; event?: string; snapshot?: { status: string } };
          if (msg.event === 'status' && msg.snapshot) {
            if (statuses.at(-1) !== msg.snapshot.status) statuses.push(msg.snapshot.status);
            if (statuses.length === 1) socket.write('{"id":2,"method":"check"}\n');
            if (msg.snapshot.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') resolve();
          }
        }
      });
    });
    socket.write('{"id":1,"method":"watch"}\n');
    await finished;
    expect(statuses.map((s) => s.slice(14))).toEqual([
      'IDLE',
      'CHECKING_FOR_UPDATE',
      'UPDATE_AVAILABLE',
      'DOWNLOADING',
      'VERIFYING',
      'FINALIZING',
      'UPDATED_NEED_REBOOT',
    ]);
    expect(handler.listeners).toBe(1);
    socket.destroy();
    await vi.waitFor(() => expect(handler.listeners).toBe(0), { timeout: 10_000 });
  });

  it('reports handler errors with their code, bugs as ERR_INTERNAL, and bad requests with id null', async () => {
    const { socketPath, handler } = await serve();
    const replies = await exchange(socketPath, ['{"id":0,"method":"check"}\n{"id":1,"method":"reset"}\n', 'hello\n', '{"id":3,"method":"reboot"}\n'], 4);
    expect(replies).toContainEqual({
      id: 1,
      ok: false,
      error: { code: 'ERR_UPDATE_IN_PROGRESS', message: 'Cannot reset while an update runs (status UPDATE_STATUS_IDLE)' },
    });
    expect(replies.filter((r) => r.id === null).map((r) => (r.error as { code: string }).code)).toEqual(['ERR_CONTROL_SOCKET', 'ERR_CONTROL_SOCKET']);
    handler.statusError = new TypeError('boom');
    expect(await exchange(socketPath, ['{"id":4,"method":"status"}\n'], 1)).toEqual([
      { id: 4, ok: false, error: { code: 'ERR_INTERNAL', message: 'The daemon failed: boom' } },
    ]);
    handler.statusError = new UpdateEngineError('ERR_STATE', 'State unreadable');
    expect(await exchange(socketPath, ['{"id":5,"method":"watch"}\n'], 1)).toEqual([
      { id: 5, ok: false, error: { code: 'ERR_STATE', message: 'State unreadable' } },
    ]);
  });

  it('answers an endless line with an error and closes the connection', async () => {
    const { socketPath } = await serve();
    const replies = await exchange(socketPath, ['x'.repeat(70 * 1024)], 1);
    expect(replies).toEqual([{ id: null, ok: false, error: { code: 'ERR_CONTROL_SOCKET', message: 'A control socket message is longer than 65536 bytes' } }]);
  });
});
