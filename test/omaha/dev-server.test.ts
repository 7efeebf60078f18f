// The development Omaha server end to end, in process: update checks answered from real payloads
// (newest newer version, track), events recorded, payloads served with Range, bad requests refused,
// and a client check -> download -> apply round trip that verifies against the offer.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { omahaEvents } from '../../src/omaha/events.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { ByterangesParser, byterangesBoundary } from '../../src/omaha/multipart-ranges.ts';
import { createHttpPayloadSource } from '../../src/omaha/http-payload-source.ts';
import { checkPayloadAgainstOffer, type UpdateOffer } from '../../src/omaha/offer.ts';
import { OmahaClient } from '../../src/omaha/omaha-client.ts';
import type { UpdateCheckRequestParams } from '../../src/omaha/request-builder.ts';
import { applyPayload } from '../../src/payload/apply.ts';
import { makeTestPayload, startTestOmahaServer, testKeyring, type TestOmahaServer, type TestPayload } from '../helpers/omaha-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'dev-server-'));
const APP = '{4d3c2f2a-9b8e-4a1c-8f5e-2b7d6c1a9e30}';
const params: UpdateCheckRequestParams = {
  appId: APP,
  version: '1.0.0',
  track: 'stable',
  machineId: 'aaaabbbbccccddddeeeeffff00001111',
  bootId: '{11111111-2222-3333-4444-555555555555}',
  alephVersion: '1.0.0',
  previousVersion: '',
};

function request(url: string, options: http.RequestOptions = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the development Omaha server', () => {
  let older: TestPayload;
  let newer: TestPayload;
  let server: TestOmahaServer;
  let transport: GotTransport;
  let client: OmahaClient;

  beforeAll(async () => {
    older = await makeTestPayload(dir, { version: '1.1.0', imageBytes: 300_000, blockSizeBytes: 65536 });
    newer = await makeTestPayload(dir, { version: '1.2.0', imageBytes: 2_000_000 + 17, blockSizeBytes: 65536 });
    server = await startTestOmahaServer([older.path, newer.path]);
    transport = await GotTransport.create({ env: {} });
    client = new OmahaClient({ serverUrl: server.updateUrl, transport, retry: { attempts: 1 } });
  });
  afterAll(async () => {
    transport.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers the newest payload newer than the client, with its size and SHA-256', async () => {
    const offer = await client.checkForUpdate(params);
    expect(offer).toMatchObject({
      kind: 'update',
      appId: APP,
      version: '1.2.0',
      urls: [`${server.url}/payloads/1/update-1.2.0.payload`],
      sizeBytes: newer.payloadSizeBytes,
      sha256Base64: newer.payloadSha256Base64,
    });
  });

  it('answers noupdate to a client that is up to date', async () => {
    expect((await client.checkForUpdate({ ...params, version: '1.2.0' })).kind).toBe('noupdate');
    expect((await client.checkForUpdate({ ...params, version: '1.1.5' })).kind).toBe('update');
  });

  it('records the events of checks and event-only requests, in order', async () => {
    server.events.length = 0;
    await client.checkForUpdate({ ...params, previousVersion: '0.9.0' });
    await client.sendEvent({ ...params, event: omahaEvents.error(10) });
    expect(server.events).toEqual([
      { machineid: params.machineId, version: '1.0.0', eventtype: 3, eventresult: 2, errorcode: null, previousversion: '0.9.0' },
      { machineid: params.machineId, version: '1.0.0', eventtype: 3, eventresult: 0, errorcode: 10, previousversion: null },
    ]);
  });

  it('offers only on its track when it has one', async () => {
    const tracked = await startTestOmahaServer([newer.path], { track: 'beta' });
    try {
      const c = new OmahaClient({ serverUrl: tracked.updateUrl, transport, retry: { attempts: 1 } });
      expect((await c.checkForUpdate({ ...params, track: 'beta' })).kind).toBe('update');
      expect((await c.checkForUpdate({ ...params, track: 'stable' })).kind).toBe('noupdate');
    } finally {
      await tracked.close();
    }
  });

  it('serves payloads with Range (one, or several as multipart/byteranges), HEAD and 416', async () => {
    const url = `${server.url}/payloads/1/update-1.2.0.payload`;
    const bytes = await readFile(newer.path);
    const part = await request(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(100, 200))).toBe(true);
    const whole = await request(url);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytes)).toBe(true);
    const head = await request(url, { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(bytes.length));
    const multi = await request(url, { headers: { range: 'bytes=0-9,1000-1099' } });
    expect(multi.status).toBe(206);
    const boundary = byterangesBoundary(multi.headers['content-type']) as string;
    expect(boundary).toMatch(/^[0-9a-f]{24}$/);
    expect(Number(multi.headers['content-length'])).toBe(multi.body.length);
    const events = new ByterangesParser(boundary).push(multi.body);
    expect(events.map((e) => (e.kind === 'part' ? e.range : e.data))).toEqual([
      { start: 0, endInclusive: 9, totalBytes: bytes.length },
      bytes.subarray(0, 10),
      { start: 1000, endInclusive: 1099, totalBytes: bytes.length },
      bytes.subarray(1000, 1100),
    ]);
    const beyond = await request(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
  });

  it('refuses what it does not serve', async () => {
    expect((await request(`${server.url}/payloads/1/other.payload`)).status).toBe(404);
    expect((await request(`${server.url}/etc/passwd`)).status).toBe(404);
    expect((await request(server.updateUrl)).status).toBe(405);
    const bad = await request(server.updateUrl, { method: 'POST' }, '<request><app></request>');
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toContain('Cannot parse the Omaha request');
    expect((await request(server.updateUrl, { method: 'POST' }, 'x'.repeat(70_000))).status).toBe(413);
  });

  it('round trip: check, download with Range, apply into a file region, verify against the offer', async () => {
    const offer = (await client.checkForUpdate(params)) as UpdateOffer;
    const disk = join(dir, 'disk.img');
    const regionOffset = 4096;
    writeFileSync(disk, Buffer.alloc(regionOffset + newer.image.length + 4096, 0x5a));
    const source = createHttpPayloadSource({ transport, urls: offer.urls, sizeBytes: offer.sizeBytes, maxFailureCountPerUrl: offer.maxFailureCountPerUrl });
    const result = await applyPayload(source.open, {
      target: new FileRegionTarget(disk, regionOffset, newer.image.length),
      keyring: testKeyring(),
      expect: { appId: APP, runningVersion: '1.0.0', allowDowngrade: false },
    });
    expect(checkPayloadAgainstOffer(offer, { sizeBytes: result.payloadSizeBytes, sha256Base64: result.payloadSha256Base64 })).toBe(true);
    const after = await readFile(disk);
    expect(after.subarray(regionOffset, regionOffset + newer.image.length).equals(newer.image)).toBe(true);
    expect(after.subarray(0, regionOffset).every((b) => b === 0x5a)).toBe(true);
    expect(after.subarray(regionOffset + newer.image.length).every((b) => b === 0x5a)).toBe(true);
    expect(source.stats()).toMatchObject({ bytesDelivered: offer.sizeBytes, failures: 0 });
  });
});
