import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { loadEtcdOptions } from '../../src/lock/etcd-options.ts';
import { makeEtcdCertificates, startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { requireTool } from '../helpers/tools.ts';

/** Resolves when check() is true, re-checking on every callback tick (no timing assumptions beyond a generous cap). */
async function until(check: () => boolean | Promise<boolean>, what: string, capMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > capMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

describe('EtcdLockStore on a real etcd', () => {
  it('reads with revisions (as strings) and commits only when every guard holds', async () => {
    const store = new EtcdLockStore({ endpoints: etcd.endpoints });
    try {
      expect(await store.get('t1/a')).toBeUndefined();
      expect(await store.commit([{ key: 't1/a', absent: true }], [{ op: 'put', key: 't1/a', value: 'one' }])).toBe(true);
      expect(await store.commit([{ key: 't1/a', absent: true }], [{ op: 'put', key: 't1/a', value: 'two' }])).toBe(false);
      const a = await store.get('t1/a');
      expect(a).toMatchObject({ key: 't1/a', value: 'one', leased: false });
      expect(a?.modRevision).toMatch(/^\d+$/);
      const ok = await store.commit(
        [{ key: 't1/a', modRevision: a?.modRevision as string }],
        [
          { op: 'put', key: 't1/a', value: 'three' },
          { op: 'put', key: 't1/b', value: 'b' },
        ],
      );
      expect(ok).toBe(true);
      // The old revision no longer matches: nothing of this commit is applied.
      expect(
        await store.commit(
          [{ key: 't1/a', modRevision: a?.modRevision as string }],
          [
            { op: 'delete', key: 't1/b' },
            { op: 'put', key: 't1/a', value: 'lost' },
          ],
        ),
      ).toBe(false);
      const all = await store.getPrefix('t1/');
      expect(all.values.map((v) => [v.key, v.value])).toEqual([
        ['t1/a', 'three'],
        ['t1/b', 'b'],
      ]);
      expect(BigInt(all.revision)).toBeGreaterThanOrEqual(BigInt(all.values[0]?.modRevision as string));
      expect(await store.commit([], [{ op: 'delete', key: 't1/b' }])).toBe(true);
      expect(await store.get('t1/b')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('puts keys under a session lease that vanish when the store closes', async () => {
    const owner = new EtcdLockStore({ endpoints: etcd.endpoints, sessionTtlSeconds: 5 });
    const other = new EtcdLockStore({ endpoints: etcd.endpoints });
    try {
      const leaseId = await owner.sessionLease();
      expect(leaseId).toMatch(/^\d+$/);
      expect(await owner.sessionLease()).toBe(leaseId);
      await owner.commit([{ key: 't2/live', absent: true }], [{ op: 'put', key: 't2/live', value: '', leased: true }]);
      expect((await other.get('t2/live'))?.leased).toBe(true);
      await owner.close();
      expect(await other.get('t2/live')).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('calls the watch callback for changes after the read revision', async () => {
    const store = new EtcdLockStore({ endpoints: etcd.endpoints });
    const writer = new EtcdLockStore({ endpoints: etcd.endpoints });
    try {
      await writer.commit([], [{ op: 'put', key: 't3/x', value: 'before' }]);
      const read = await store.getPrefix('t3/');
      let calls = 0;
      const handle = await store.watch('t3/', read.revision, () => (calls += 1));
      await until(() => calls >= 1, 'the watch to connect');
      const connected = calls;
      await writer.commit([], [{ op: 'put', key: 't3/x', value: 'after' }]);
      await until(() => calls > connected, 'a watch event');
      await handle.close();
    } finally {
      await store.close();
      await writer.close();
    }
  });

  it('says which endpoints it could not reach', async () => {
    const store = new EtcdLockStore({ endpoints: ['http://127.0.0.1:1'], callTimeoutMs: 2000 });
    try {
      await expect(store.ping(2000)).rejects.toMatchObject({ code: 'ERR_LOCK_STORE', message: expect.stringContaining('"http://127.0.0.1:1"') });
      await expect(store.get('x')).rejects.toMatchObject({ code: 'ERR_LOCK_STORE' });
    } finally {
      await store.close();
    }
  });

  it('authenticates with a user name and password', async () => {
    requireTool('etcdctl');
    const authEtcd = await startEtcd();
    try {
      const ctl = (...args: string[]) =>
        execFileSync('etcdctl', ['--endpoints', authEtcd.endpoints[0] as string, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'pipe' });
      ctl('user', 'add', 'root', '--new-user-password=rootpw');
      ctl('auth', 'enable');
      const good = new EtcdLockStore(await loadEtcdOptions({ etcdEndpoints: authEtcd.endpoints, etcdUsername: 'root', etcdPassword: 'rootpw' }));
      expect(await good.commit([], [{ op: 'put', key: 'auth/x', value: '1' }])).toBe(true);
      await good.close();
      const anonymous = new EtcdLockStore({ endpoints: authEtcd.endpoints });
      await expect(anonymous.get('auth/x')).rejects.toMatchObject({ code: 'ERR_LOCK_STORE' });
      await anonymous.close();
      const wrong = new EtcdLockStore({ endpoints: authEtcd.endpoints, username: 'root', password: 'nope' });
      await expect(wrong.get('auth/x')).rejects.toMatchObject({ code: 'ERR_LOCK_STORE' });
      await wrong.close();
    } finally {
      await authEtcd.stop();
    }
  });
});

describe('EtcdLockStore over TLS (certificates made with openssl here)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ue-etcd-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('works with a CA file alone (the server asks no client certificate)', async () => {
    const tls = makeEtcdCertificates(dir);
    const server = await startEtcd({ tls });
    try {
      expect(server.endpoints[0]).toMatch(/^https:/);
      const store = new EtcdLockStore(await loadEtcdOptions({ etcdEndpoints: server.endpoints, etcdCaFile: tls.caFile }));
      expect(await store.commit([{ key: 'tls/a', absent: true }], [{ op: 'put', key: 'tls/a', value: 'ok' }])).toBe(true);
      expect((await store.get('tls/a'))?.value).toBe('ok');
      await store.close();
    } finally {
      await server.stop();
    }
  });

  it('presents a client certificate when the server requires one, and fails without it', async () => {
    const tls = makeEtcdCertificates(dir);
    const server = await startEtcd({ tls: { ...tls, clientCertAuth: true } });
    try {
      const withCert = new EtcdLockStore(
        await loadEtcdOptions({ etcdEndpoints: server.endpoints, etcdCaFile: tls.caFile, etcdCertFile: tls.clientCertFile, etcdKeyFile: tls.clientKeyFile }),
      );
      expect(await withCert.commit([], [{ op: 'put', key: 'mtls/a', value: 'ok' }])).toBe(true);
      await withCert.close();
      const caOnly = new EtcdLockStore({ ...(await loadEtcdOptions({ etcdEndpoints: server.endpoints, etcdCaFile: tls.caFile })), callTimeoutMs: 2000 });
      await expect(caOnly.get('mtls/a')).rejects.toMatchObject({ code: 'ERR_LOCK_STORE' });
      await caOnly.close();
    } finally {
      await server.stop();
    }
  });
});

describe('EtcdLockStore on a 3-member cluster', () => {
  it('keeps reading, writing and watching while each member in turn is stopped', async () => {
    const cluster = await startEtcd({ members: 3 });
    const store = new EtcdLockStore({ endpoints: cluster.endpoints, callTimeoutMs: 3000 });
    const writer = new EtcdLockStore({ endpoints: cluster.endpoints, callTimeoutMs: 3000 });
    try {
      await store.commit([], [{ op: 'put', key: 'ha/x', value: '0' }]);
      const read = await store.getPrefix('ha/');
      let calls = 0;
      const handle = await store.watch('ha/', read.revision, () => (calls += 1));
      await until(() => calls >= 1, 'the watch to connect');
      // Whichever member the watch and the clients use, one of these rounds takes it away.
      let written = 0;
      for (const member of cluster.members) {
        await member.stop();
        for (let i = 0; i < 3; i++) {
          const before = calls;
          const cur = await writer.get('ha/x');
          written += 1;
          expect(await writer.commit([{ key: 'ha/x', modRevision: cur?.modRevision as string }], [{ op: 'put', key: 'ha/x', value: String(written) }])).toBe(
            true,
          );
          await until(() => calls > before, `the watch event of write ${written}`);
        }
        await member.restart();
      }
      expect((await store.get('ha/x'))?.value).toBe(String(written));
      await handle.close();
    } finally {
      await store.close();
      await writer.close();
      await cluster.stop();
    }
  });
});
