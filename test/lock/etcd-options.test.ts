import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEtcdOptions } from '../../src/lock/etcd-options.ts';

const dir = mkdtempSync(join(tmpdir(), 'ue-etcd-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadEtcdOptions', () => {
  it('reads the CA, certificate and key files and keeps the credentials', async () => {
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, name), `-----${name}-----\n`);
    const options = await loadEtcdOptions({
      etcdEndpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
      etcdCaFile: join(dir, 'ca.pem'),
      etcdCertFile: join(dir, 'cert.pem'),
      etcdKeyFile: join(dir, 'key.pem'),
      etcdUsername: 'core',
      etcdPassword: 'secret',
    });
    expect(options.endpoints).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(options.caPem?.toString()).toBe('-----ca.pem-----\n');
    expect(options.certPem?.toString()).toBe('-----cert.pem-----\n');
    expect(options.keyPem?.toString()).toBe('-----key.pem-----\n');
    expect([options.username, options.password]).toEqual(['core', 'secret']);
  });

  it('leaves out what is not set (an empty user means no auth)', async () => {
    const options = await loadEtcdOptions({ etcdEndpoints: ['http://127.0.0.1:2379'], etcdUsername: '' }, { callTimeoutMs: 1234 });
    expect(options).toEqual({ endpoints: ['http://127.0.0.1:2379'], callTimeoutMs: 1234 });
  });

  it('names a file it cannot read, with the setting', async () => {
    await expect(loadEtcdOptions({ etcdEndpoints: ['https://127.0.0.1:2379'], etcdCaFile: join(dir, 'missing.pem') })).rejects.toMatchObject({
      code: 'ERR_CONFIG_FILE',
      message: `Cannot read the etcd CA file "${join(dir, 'missing.pem')}" (LOCKSMITHD_ETCD_CAFILE): no such file`,
    });
  });

  it('refuses a certificate without its key', async () => {
    await expect(loadEtcdOptions({ etcdEndpoints: ['https://127.0.0.1:2379'], etcdCertFile: 'c.pem' })).rejects.toMatchObject({ code: 'ERR_CONFIG_VALUE' });
  });
});
