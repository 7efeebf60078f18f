// The server-side request parser: our builder's requests and update_engine's sample read back.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { omahaEvents } from '../../src/omaha/events.ts';
import { buildEventRequest, buildUpdateCheckRequest } from '../../src/omaha/request-builder.ts';
import { parseOmahaRequest } from '../../src/omaha/request-parser.ts';

const info = {
  appId: '{app}',
  version: '1.2.3',
  track: 'beta',
  machineId: 'm1',
  bootId: '{b}',
  alephVersion: '1.0.0',
  machineAlias: 'db-1',
  board: 'amd64-usr',
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof UpdateEngineError ? e.code : 'other';
  }
  return undefined;
}

describe('parseOmahaRequest', () => {
  it("reads update_engine's sample request", () => {
    const r = parseOmahaRequest(readFileSync(new URL('../../fixtures/omaha/update-engine-request.xml', import.meta.url)));
    expect(r.installSource).toBe('scheduler');
    expect(r.apps).toEqual([
      {
        appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}',
        version: '3602.2.3',
        track: 'stable',
        machineId: 'dbff85b41ae14f41bde761eefbdafaac',
        machineAlias: '',
        board: 'amd64-usr',
        oem: 'vmware',
        oemVersion: '11.2.5',
        ping: true,
        updateCheck: true,
        events: [{ eventType: 3, eventResult: 2, previousVersion: '' }],
      },
    ]);
  });

  it('reads back what the builder writes', () => {
    const check = parseOmahaRequest(buildUpdateCheckRequest({ ...info, installSource: 'ondemandupdate', previousVersion: '', rollback: true }));
    expect(check.installSource).toBe('ondemandupdate');
    const { bootId: _b, alephVersion: _a, ...identity } = info;
    expect(check.apps[0]).toEqual({
      ...identity,
      oem: '',
      oemVersion: '',
      ping: true,
      updateCheck: true,
      events: [{ eventType: 3, eventResult: 0, errorCode: 44 }],
    });
    const withOem = parseOmahaRequest(buildUpdateCheckRequest({ ...info, oem: 'azure', oemVersion: '2.1' }));
    expect(withOem.apps[0]).toMatchObject({ oem: 'azure', oemVersion: '2.1', events: [] });
    const event = parseOmahaRequest(buildEventRequest({ ...info, event: omahaEvents.downloadFinished() }));
    expect(event.apps[0]).toMatchObject({ ping: false, updateCheck: false, events: [{ eventType: 14, eventResult: 1 }] });
  });

  it('refuses bad requests with precise codes', () => {
    expect(codeOf(() => parseOmahaRequest('<request><app'))).toBe('ERR_OMAHA_PARSE');
    expect(codeOf(() => parseOmahaRequest(`<request>${' '.repeat(70_000)}</request>`))).toBe('ERR_OMAHA_PARSE');
    expect(codeOf(() => parseOmahaRequest('<response/>'))).toBe('ERR_OMAHA_RESPONSE_INVALID');
    expect(codeOf(() => parseOmahaRequest('<request/>'))).toBe('ERR_OMAHA_RESPONSE_INVALID');
    expect(codeOf(() => parseOmahaRequest('<request><app version="1"/></request>'))).toBe('ERR_OMAHA_RESPONSE_INVALID');
    expect(codeOf(() => parseOmahaRequest('<request><app appid="a"><event eventtype="x" eventresult="1"/></app></request>'))).toBe(
      'ERR_OMAHA_RESPONSE_INVALID',
    );
  });
});
