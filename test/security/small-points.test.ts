// The smaller attacks of issue 14, point 9: a password in a URL reaching a log line or printout; an
// endless FleetLock or Omaha answer; the settings' secrets in the environment of HEALTH_CHECK and
// REBOOT_COMMAND; a symlink planted at a temporary file's name; METRICS_LISTEN on the network; a
// forged etcd semaphore with more free slots, holders or a negative count (real etcd, real locksmithctl).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.ts';
import { writeFileAtomic } from '../../src/platform/atomic-file.ts';
import { createExclusive, tempPathFor } from '../../src/platform/temp-file.ts';
import { settingsSchema } from '../../src/config/schema.ts';
import { buildRebootPorts } from '../../src/daemon/reboot-ports.ts';
import { FleetLockClient } from '../../src/lock/fleet-lock-client.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { OmahaClient } from '../../src/omaha/omaha-client.ts';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { semaphoreKey } from '../../src/lock/lock-keys.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-small-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('passwords in URLs are redacted in log lines and printouts', () => {
  it('every logged field and message', () => {
    let out = '';
    const sink = new Writable({
      write: (c, _e, cb) => {
        out += String(c);
        cb();
      },
    });
    const logger = createLogger({ level: 'trace', pretty: false, destination: sink });
    logger.warn({ url: 'https://fleet:hunter2@dl.example.net/p', nested: { urls: ['http://a:b0rk@x/'] } }, 'fetching https://fleet:hunter2@dl.example.net/p');
    expect(out).not.toMatch(/hunter2|b0rk/);
    expect(out).toContain('https://fleet:***@dl.example.net/p');
  });

  it('update-engine config prints SERVER without its password, and a CLI error line too', async () => {
    const conf = join(dir, 'pw.conf');
    await writeFile(conf, 'SERVER=https://fleet:hunter2@update.example.net/v1/update/\n');
    const r = await runCli('update-engine', ['config', '--sysroot', dir, '--config', conf], { env: cleanEnv() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SERVER=https://fleet:***@update.example.net/v1/update/');
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    await writeFile(conf, 'SERVER=https://fleet:hunter2@update.example.net/v1/update/\nMETRICS_LISTEN=https://fleet:hunter2@x:1\n');
    const bad = await runCli('update-engine', ['config', '--sysroot', dir, '--config', conf], { env: cleanEnv() });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).not.toContain('hunter2');
  });
});

describe('answers over 1 MiB are refused while streaming', () => {
  let server: http.Server;
  let url: string;
  let sent = 0;
  beforeAll(async () => {
    // An endless answer: 64 KiB chunks for ever, to any request.
    server = http.createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/xml' });
      const chunk = Buffer.alloc(65536, 0x61);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('FleetLock: ERR_LOCK_STORE after 1 MiB, not an endless buffer', async () => {
    sent = 0;
    const client = new FleetLockClient({ baseUrl: url, id: 'm1', group: '' });
    await expect(client.preReboot()).rejects.toMatchObject({ code: 'ERR_LOCK_STORE', message: expect.stringContaining('over 1048576 bytes') });
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('Omaha: the check fails after 1 MiB of answer', async () => {
    const transport = await GotTransport.create({ env: {} });
    try {
      const client = new OmahaClient({ serverUrl: `${url}/v1/update/`, transport, clock: systemClock, logger: silentLogger(), retry: { attempts: 1 } });
      const r = client.checkForUpdate(
        {
          appId: '{a}',
          version: '1.0.0',
          track: 'stable',
          machineId: 'm',
          bootId: 'b',
          alephVersion: '1.0.0',
          machineAlias: '',
          installSource: 'ondemandupdate',
          previousVersion: '',
        },
        AbortSignal.timeout(20_000),
      );
      await expect(r).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_OMAHA_/) });
    } finally {
      transport.close();
    }
  });
});

describe("the settings' secrets stay out of HEALTH_CHECK and REBOOT_COMMAND", () => {
  it('neither sees DOWNLOAD_PASSWORD or the etcd password, under any name or value', async () => {
    const dump = join(dir, 'dump-env.cjs');
    await writeFile(dump, `require('fs').writeFileSync(process.argv[2], JSON.stringify(process.env));\n`);
    const saved = { ...process.env };
    // PATH without `wall`: the reboot must not broadcast to this machine's terminals.
    Object.assign(process.env, {
      UPDATE_ENGINE_DOWNLOAD_PASSWORD: 's3cret-dl',
      LOCKSMITHD_ETCD_PASSWORD: 's3cret-etcd',
      SOME_COPY: 's3cret-dl',
      HARMLESS: 'kept',
      PATH: dir,
    });
    try {
      const settings = settingsSchema.parse({
        downloadPassword: 's3cret-dl',
        etcdPassword: 's3cret-etcd',
        healthCheck: `${process.execPath} ${dump} ${join(dir, 'health.json')}`,
        rebootCommand: `${process.execPath} ${dump} ${join(dir, 'reboot.json')}`,
      });
      const ports = buildRebootPorts(settings, 'm1', systemClock, silentLogger());
      expect(await ports.healthGate(new AbortController().signal)).toBe(true);
      await ports.rebooter.reboot('test');
      for (const file of ['health.json', 'reboot.json']) {
        const text = await readFile(join(dir, file), 'utf8');
        expect(text).not.toMatch(/s3cret/);
        expect(JSON.parse(text)).toMatchObject({ HARMLESS: 'kept' });
      }
    } finally {
      for (const k of ['UPDATE_ENGINE_DOWNLOAD_PASSWORD', 'LOCKSMITHD_ETCD_PASSWORD', 'SOME_COPY', 'HARMLESS', 'PATH']) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('temporary files: random names, O_EXCL|O_NOFOLLOW', () => {
  it('a symlink planted at the old guessable name (<file>.tmp-<pid>) is neither followed nor used', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'untouched');
    const state = join(dir, 'state.json');
    await symlink(victim, `${state}.tmp-${process.pid}`);
    await writeFileAtomic(state, '{"ok":true}');
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    expect(await readFile(state, 'utf8')).toBe('{"ok":true}');
    expect((await readdir(dir)).filter((n) => n.startsWith('.state.json.tmp-'))).toEqual([]);
  });

  it('names are unguessable, and an existing file or link at one is refused', async () => {
    const p = join(dir, 'x');
    expect(tempPathFor(p)).not.toBe(tempPathFor(p));
    const planted = tempPathFor(p);
    await symlink(join(dir, 'victim'), planted);
    await expect(createExclusive(planted)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});

describe('METRICS_LISTEN stays on loopback unless METRICS_ALLOW_REMOTE', () => {
  it.each([
    ['0.0.0.0:9105', false],
    ['10.1.2.3:9105', false],
    ['[::]:9105', false],
    ['127.0.0.1:9105', true],
    ['[::1]:9105', true],
    ['localhost:9105', true],
    ['/run/update-engine/metrics.sock', true],
  ])('%s accepted: %s', (listen, ok) => {
    const parse = () => settingsSchema.parse({ metricsListen: listen });
    if (ok) expect(parse().metricsListen).toBe(listen);
    else expect(parse).toThrow(/not a loopback address.*METRICS_ALLOW_REMOTE=true/);
    expect(settingsSchema.parse({ metricsListen: listen, metricsAllowRemote: 'true' }).metricsListen).toBe(listen);
  });
});

describe('a forged etcd semaphore is corrupt until locksmithctl repairs it', () => {
  let etcd: EtcdCluster;
  let store: EtcdLockStore;
  beforeAll(async () => {
    etcd = await startEtcd();
    store = new EtcdLockStore({ endpoints: etcd.endpoints });
  });
  afterAll(async () => {
    await store?.close();
    await etcd?.stop();
  });

  it.each([
    ['more free slots than max', '{"semaphore":5,"max":1,"holders":[]}'],
    ['more holders than max', '{"semaphore":0,"max":1,"holders":["a","b"]}'],
    ['a negative count', '{"semaphore":-1,"max":1,"holders":["a","b"]}'],
  ])('%s: no lock is taken (ERR_LOCK_VALUE); locksmithctl set-max repairs it', async (name, value) => {
    const group = name.replace(/\W+/g, '-');
    await store.commit([], [{ op: 'put', key: semaphoreKey(group), value }]);
    const client = new SemaphoreClient({ store, group, clock: systemClock });
    await expect(client.lock('m1')).rejects.toMatchObject({ code: 'ERR_LOCK_VALUE', message: expect.stringContaining('locksmithctl set-max') });
    const ctl = (...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);
    for (const h of JSON.parse(value).holders as string[]) expect((await ctl('unlock', h)).code).toBe(0);
    expect((await ctl('set-max', '1')).code).toBe(0);
    await client.lock('m1');
    expect((await client.snapshot()).semaphore).toEqual({ semaphore: 0, max: 1, holders: ['m1'] });
  });
});
