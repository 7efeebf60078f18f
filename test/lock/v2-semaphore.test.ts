import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { findV2Semaphore, v2Warning } from '../../src/lock/v2-semaphore.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let withV2: EtcdCluster;
let withoutV2: EtcdCluster;
beforeAll(async () => {
  [withV2, withoutV2] = await Promise.all([startEtcd({ enableV2: true }), startEtcd()]);
});
afterAll(async () => {
  await Promise.all([withV2?.stop(), withoutV2?.stop()]);
});

/** Writes a v2 key the way the released locksmith does (form-encoded PUT /v2/keys/...). */
async function putV2(endpoint: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${endpoint}/v2/keys/${key}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ value }),
  });
  expect(res.status).toBeLessThan(300);
}

describe('findV2Semaphore', () => {
  it('reports no v2 API when etcd runs without --enable-v2', async () => {
    expect(await findV2Semaphore({ endpoints: withoutV2.endpoints }, '')).toEqual({ kind: 'no-v2' });
  });

  it('reports an absent semaphore when v2 answers without it', async () => {
    expect(await findV2Semaphore({ endpoints: withV2.endpoints }, 'nobody-here')).toEqual({ kind: 'absent', endpoint: withV2.endpoints[0] });
  });

  it('finds a locksmith v2 semaphore, default group and named group, and warns about it', async () => {
    const endpoint = withV2.endpoints[0] as string;
    await putV2(endpoint, 'coreos.com/updateengine/rebootlock/semaphore', '{"semaphore":0,"max":1,"holders":["m1"]}');
    const found = await findV2Semaphore({ endpoints: withV2.endpoints }, '');
    expect(found).toEqual({
      kind: 'present',
      endpoint,
      value: '{"semaphore":0,"max":1,"holders":["m1"]}',
      semaphore: { semaphore: 0, max: 1, holders: ['m1'] },
    });
    expect(v2Warning(found, '')).toMatch(
      /^Warning: an etcd v2 reboot semaphore exists \(.*\/v2\/keys\/coreos.com\/updateengine\/rebootlock\/semaphore, held by m1\)\. .*twice "max"/,
    );
    // A group name that needs escaping: locksmith's key holds "db%2Fwest", which the URL must carry as "db%252Fwest".
    await putV2(endpoint, 'coreos.com/updateengine/rebootlock/groups/db%252Fwest/semaphore', '{"semaphore":1,"max":1,"holders":null}');
    expect(await findV2Semaphore({ endpoints: withV2.endpoints }, 'db/west')).toMatchObject({
      kind: 'present',
      semaphore: { semaphore: 1, max: 1, holders: [] },
    });
    expect(v2Warning({ kind: 'absent', endpoint }, '')).toBeUndefined();
  });

  it('skips endpoints that do not answer, and ones that answer something else', async () => {
    const odd: Server = createServer((_req, res) => res.writeHead(500).end('boom'));
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', () => r()));
    const address = odd.address();
    const oddUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const found = await findV2Semaphore({ endpoints: ['http://127.0.0.1:1', oddUrl, ...withV2.endpoints] }, '', 1000);
      expect(found).toMatchObject({ kind: 'present', endpoint: withV2.endpoints[0] });
    } finally {
      await new Promise<void>((r) => odd.close(() => r()));
    }
  });
});
