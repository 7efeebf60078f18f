// OmahaClient against the fault-injecting server: the request it sends, offers and noupdate, retries
// with backoff for network failures and 5xx (not for bad answers), and each fault's precise error.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateEngineError, omahaErrorCode } from '../../src/errors.ts';
import { omahaEvents } from '../../src/omaha/events.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { OmahaClient, type OmahaClientOptions } from '../../src/omaha/omaha-client.ts';
import type { UpdateCheckRequestParams } from '../../src/omaha/request-builder.ts';
import { childOf, childrenOf, parseXmlDocument } from '../../src/omaha/xml-tree.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { startFaultServer, type Fault, type FaultServer } from '../helpers/fault-server.ts';
import { failure } from '../helpers/errors.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/omaha/${name}`, import.meta.url), 'utf8');
const APP = '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}';

const params: UpdateCheckRequestParams = {
  appId: APP,
  version: '3300.0.0',
  track: 'stable',
  machineId: '0123456789abcdef0123456789abcdef',
  bootId: '{00000000-1111-2222-3333-444444444444}',
  alephVersion: '3000.0.0',
  installSource: 'scheduler',
  previousVersion: '',
};

/** A clock whose sleeps return at once and are recorded. */
function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => 0, monotonicMs: () => 0, sleep: async (ms) => void sleeps.push(ms) };
}

describe('OmahaClient', () => {
  let server: FaultServer;
  let transport: GotTransport;
  const client = (extra: Partial<OmahaClientOptions> = {}) =>
    new OmahaClient({
      serverUrl: `${server.url}/v1/update/`,
      transport,
      clock: recordingClock(),
      random: () => 0.5,
      retry: { attempts: 3, baseDelayMs: 1000 },
      ...extra,
    });

  beforeAll(async () => {
    server = await startFaultServer();
    transport = await GotTransport.create({ env: {} });
  });
  afterAll(async () => {
    transport.close();
    await server.close();
  });

  const answer = (body: string | Buffer, status = 200): Fault => ({ kind: 'body', body, status });

  it('POSTs the update check as text/xml and returns the offer', async () => {
    server.setFaults([answer(fixture('nebraska-ok.xml'))]);
    const before = server.requests.length;
    const result = await client().checkForUpdate({ ...params, previousVersion: '3200.0.0' });
    expect(result).toMatchObject({ kind: 'update', version: '3374.2.0', sizeBytes: 360141900 });
    const sent = server.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers['content-type']).toBe('text/xml');
    const app = childOf(parseXmlDocument(sent[0]?.body ?? '', 65536), 'app');
    expect(app?.attributes.get('machineid')).toBe(params.machineId);
    expect(childrenOf(app, 'updatecheck')).toHaveLength(1);
    expect(childOf(app, 'event')?.attributes.get('previousversion')).toBe('3200.0.0');
  });

  it('returns noupdate', async () => {
    server.setFaults([answer(fixture('nebraska-noupdate.xml'))]);
    expect((await client().checkForUpdate(params)).kind).toBe('noupdate');
  });

  it('retries 503 with doubling pauses and succeeds', async () => {
    server.setFaults([{ kind: 'status', status: 503 }, { kind: 'status', status: 500 }, answer(fixture('nebraska-noupdate.xml'))]);
    const clock = recordingClock();
    expect((await client({ clock }).checkForUpdate(params)).kind).toBe('noupdate');
    expect(clock.sleeps).toEqual([1000, 2000]);
  });

  it('gives up after the attempts with ERR_OMAHA_HTTP and Omaha code 2000 + status', async () => {
    server.setFaults([503, 503, 503, 503].map((status) => ({ kind: 'status' as const, status })));
    const before = server.requests.length;
    const e = await failure(client().checkForUpdate(params));
    expect(e.code).toBe('ERR_OMAHA_HTTP');
    expect(e.httpStatus).toBe(503);
    expect(omahaErrorCode(e)).toBe(2503);
    expect(server.requests.length - before).toBe(3);
    server.setFaults([]);
  });

  it('does not retry a 4xx', async () => {
    server.setFaults([{ kind: 'status', status: 400 }, answer(fixture('nebraska-noupdate.xml'))]);
    const before = server.requests.length;
    const e = await failure(client().checkForUpdate(params));
    expect(e.code).toBe('ERR_OMAHA_HTTP');
    expect(omahaErrorCode(e)).toBe(2400);
    expect(server.requests.length - before).toBe(1);
    server.setFaults([]);
  });

  const answers: Array<[string, Fault, string, RegExp]> = [
    ['malformed XML', answer('<response><app></response>'), 'ERR_OMAHA_PARSE', /Cannot parse/],
    ['an HTML error page', answer('<html><body>Bad gateway</body></html>'), 'ERR_OMAHA_RESPONSE_INVALID', /<html>/],
    ['an empty body', answer(''), 'ERR_OMAHA_EMPTY', /empty body/],
    ['a huge body', { kind: 'huge-body', bytes: 8 * 1024 * 1024 }, 'ERR_OMAHA_PARSE', /larger than 1 MiB/],
    ['an error status', answer(fixture('error-empty-urls.xml')), 'ERR_OMAHA_SERVER_ERROR', /error-noPackageFound/],
  ];
  for (const [name, fault, code, message] of answers) {
    it(`reports ${name} as ${code}, without retrying`, async () => {
      server.setFaults([fault, answer(fixture('nebraska-ok.xml'))]);
      const before = server.requests.length;
      const e = await failure(client().checkForUpdate(params));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(server.requests.length - before).toBe(1);
      server.setFaults([]);
    });
  }

  const network: Array<[string, Fault]> = [
    ['a reset mid-body', { kind: 'reset-after', bytes: 5 }],
    ['a redirect loop', { kind: 'redirect-loop' }],
    ['a stalled body', { kind: 'stall-after', bytes: 5 }],
  ];
  for (const [name, fault] of network) {
    it(`retries ${name} and reports ERR_OMAHA_REQUEST naming the server`, async () => {
      server.setFaults(Array.from({ length: 40 }, () => fault));
      const before = server.requests.length;
      const e = await failure(client({ totalTimeoutMs: 300 }).checkForUpdate(params));
      expect(e.code).toBe('ERR_OMAHA_REQUEST');
      expect(e.message).toContain(`"${server.url}/v1/update/"`);
      expect(omahaErrorCode(e)).toBe(2);
      expect(server.requests.length - before).toBeGreaterThanOrEqual(3);
      server.setFaults([]);
    });
  }

  it('sends an event-only request and accepts the acknowledgement', async () => {
    server.setFaults([answer(`<response protocol="3.0"><app appid="${APP}" status="ok"><event status="ok"/></app></response>`)]);
    await client().sendEvent({ ...params, event: omahaEvents.downloadStarted() });
    const app = childOf(parseXmlDocument(server.requests.at(-1)?.body ?? '', 65536), 'app');
    expect([...(app?.children.keys() ?? [])]).toEqual(['event']);
    expect(Object.fromEntries(childOf(app, 'event')?.attributes ?? [])).toEqual({ eventtype: '13', eventresult: '1' });
  });

  it('sends an event once and reports a failure', async () => {
    server.setFaults([
      { kind: 'status', status: 503 },
      { kind: 'status', status: 503 },
    ]);
    const before = server.requests.length;
    const e = await failure(client().sendEvent({ ...params, event: omahaEvents.installed() }));
    expect(e.code).toBe('ERR_OMAHA_HTTP');
    expect(server.requests.length - before).toBe(1);
    server.setFaults([]);
  });

  it('stops when the signal is aborted', async () => {
    server.setFaults([{ kind: 'no-headers' }]);
    const controller = new AbortController();
    const pending = client().checkForUpdate(params, controller.signal);
    setTimeout(() => controller.abort(new UpdateEngineError('ERR_ABORTED', 'Stopped by SIGTERM')), 50);
    const e = await failure(pending);
    expect(e.code).toBe('ERR_ABORTED');
    server.setFaults([]);
  });
});
