// The response parser on the conformance fixtures (Nebraska ok/noupdate, an error with empty urls,
// go-omaha's style with extra attributes) and on every way a response can be wrong (30/31/34/37).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpdateEngineError, omahaErrorCode, type ErrorCode } from '../../src/errors.ts';
import { MAX_RESPONSE_BYTES, parseEventResponse, parseUpdateCheckResponse } from '../../src/omaha/response-parser.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/omaha/${name}`, import.meta.url), 'utf8');
const APP = '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}';
const SHA = '/kxm4FqtXuc0/qYLo9U2yccqNmEXMsWEdtKJ7nXtPaM=';

function failure(fn: () => unknown): UpdateEngineError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UpdateEngineError) return e;
    throw e;
  }
  throw new Error('expected an UpdateEngineError');
}

/** A response with an update, with parts replaceable. */
function offerXml(parts: { updatecheck?: string; urls?: string; manifest?: string; pkg?: string; action?: string; appStatus?: string } = {}): string {
  const pkg = parts.pkg ?? '<package name="update.payload" size="1000" required="true"/>';
  const action = parts.action ?? `<action event="postinstall" sha256="${SHA}"/>`;
  const manifest = parts.manifest ?? `<manifest version="2.0.0"><packages>${pkg}</packages><actions>${action}</actions></manifest>`;
  const urls = parts.urls ?? '<urls><url codebase="http://127.0.0.1:1/p"/></urls>';
  return `<response protocol="3.0"><app appid="${APP}" status="${parts.appStatus ?? 'ok'}"><updatecheck ${parts.updatecheck ?? 'status="ok"'}>${urls}${manifest}</updatecheck></app></response>`;
}

describe('parseUpdateCheckResponse on the conformance fixtures', () => {
  it("reads Nebraska's one-line update offer", () => {
    expect(parseUpdateCheckResponse(fixture('nebraska-ok.xml'), { appId: APP })).toEqual({
      kind: 'update',
      appId: APP,
      version: '3374.2.0',
      urls: ['https://update.example.net/amd64-usr/3374.2.0/update.payload'],
      packageName: 'update.payload',
      sizeBytes: 360141900,
      sha256Base64: SHA,
      sha1Base64: 'e2jgE9Ky/yeJ1q+GsDh/Hlb37cw=',
      maxFailureCountPerUrl: 10,
      disablePayloadBackoff: true,
      isDeltaPayload: false,
      server: 'nebraska',
    });
  });

  it("reads Nebraska's noupdate", () => {
    expect(parseUpdateCheckResponse(fixture('nebraska-noupdate.xml'), { appId: APP })).toEqual({ kind: 'noupdate', appId: APP, server: 'nebraska' });
  });

  it('reports an error status with its reason even when <urls> is empty', () => {
    const err = failure(() => parseUpdateCheckResponse(fixture('error-empty-urls.xml'), { appId: APP }));
    expect(err.code).toBe('ERR_OMAHA_SERVER_ERROR');
    expect(err.message).toContain('"error-noPackageFound"');
    expect(err.details).toMatchObject({ reason: 'error-noPackageFound', updatecheckStatus: 'error-internal' });
    expect(omahaErrorCode(err)).toBe(37);
  });

  it("reads go-omaha's sample: extra attributes and elements, two URLs, an extra package, PollInterval clamped", () => {
    const offer = parseUpdateCheckResponse(fixture('go-omaha-sample.xml'), { appId: APP });
    expect(offer).toEqual({
      kind: 'update',
      appId: '{E96281A6-D1AF-4BDE-9A0A-97B76E56DC57}',
      version: '9999.1.0',
      urls: ['http://mirror-a.example.org:8080/static/update.gz', 'http://mirror-b.example.org/static/?token=a&b/update.gz'],
      packageName: 'update.gz',
      sizeBytes: 67546213,
      sha256Base64: '0VAlQW3RE99SGtSB5R4m08antAHO8XDoBMKDyxQT/Mg=',
      sha1Base64: '+LXvjiaPkeYDLHoNKlf9qbJwvnk=',
      pollIntervalMs: 45 * 60_000,
      maxFailureCountPerUrl: 3,
      disablePayloadBackoff: false,
      isDeltaPayload: true,
      server: 'go-omaha',
    });
  });
});

describe('parseUpdateCheckResponse tolerance', () => {
  it('takes the app that matches the appid among several', () => {
    const other = '<app appid="{other}" status="ok"><updatecheck status="noupdate"/></app>';
    const xml = offerXml().replace('<app ', `${other}<app `);
    expect(parseUpdateCheckResponse(xml, { appId: APP.toUpperCase() }).kind).toBe('update');
  });

  it('honours PollInterval within [45 min, 4 h]', () => {
    const at = (s: number) => parseUpdateCheckResponse(offerXml({ updatecheck: `status="noupdate" PollInterval="${s}"` })).pollIntervalMs;
    expect(at(60)).toBe(45 * 60_000);
    expect(at(3600)).toBe(3600_000);
    expect(at(86_400)).toBe(4 * 3600_000);
  });

  it('accepts a codebase without a trailing slash and decodes entities in it', () => {
    const offer = parseUpdateCheckResponse(offerXml({ urls: '<urls><url codebase="https://h/a?x=1&amp;y=&#50;"/></urls>' }));
    expect(offer.kind === 'update' && offer.urls).toEqual(['https://h/a?x=1&y=2/update.payload']);
  });

  it('does not expand anything but the predefined entities', () => {
    const offer = parseUpdateCheckResponse(offerXml({ urls: '<urls><url codebase="https://h/&foo;"/></urls>' }));
    expect(offer.kind === 'update' && offer.urls[0]).toBe('https://h/&foo;/update.payload');
  });
});

describe("Nebraska's rollout refusals are answers, not errors", () => {
  // Nebraska writes them as <app status="error-..."><updatecheck status="error-internal"/></app> (omaha.go).
  const refusal = (status: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<response protocol="3.0" server="nebraska"><daystart elapsed_seconds="0"></daystart><app appid="${APP}" status="${status}"><ping status="ok"></ping><updatecheck status="error-internal"></updatecheck></app></response>`;
  for (const status of [
    'error-maxConcurrentUpdatesLimitReached',
    'error-maxUpdatesPerPeriodLimitReached',
    'error-maxTimedOutUpdatesLimitReached',
    'error-updatesDisabled',
  ]) {
    it(`${status}: refused by policy`, () => {
      expect(parseUpdateCheckResponse(refusal(status), { appId: APP })).toMatchObject({
        kind: 'refused',
        refusal: 'policy',
        reason: status,
        server: 'nebraska',
      });
    });
  }
  it('error-updateInProgressOnInstance: refused, in progress', () => {
    expect(parseUpdateCheckResponse(refusal('error-updateInProgressOnInstance'), { appId: APP })).toMatchObject({ kind: 'refused', refusal: 'in-progress' });
  });
});

describe('parseUpdateCheckResponse errors', () => {
  const cases: Array<[string, string, ErrorCode, RegExp, number]> = [
    ['an empty body', '  \n', 'ERR_OMAHA_EMPTY', /empty body/, 30],
    ['text that is not XML', 'Service Unavailable', 'ERR_OMAHA_PARSE', /line 1/, 31],
    ['unclosed tags', '<response><app>', 'ERR_OMAHA_PARSE', /Cannot parse/, 31],
    ['a DOCTYPE with entities', '<!DOCTYPE r [<!ENTITY a "aaaa">]><response>&a;</response>', 'ERR_OMAHA_PARSE', /DOCTYPE/, 31],
    ['another root element', '<html><body/></html>', 'ERR_OMAHA_RESPONSE_INVALID', /<html>/, 34],
    ['no app', '<response protocol="3.0"/>', 'ERR_OMAHA_RESPONSE_INVALID', /no <app>/, 34],
    ['no updatecheck', `<response><app appid="${APP}" status="ok"/></response>`, 'ERR_OMAHA_RESPONSE_INVALID', /no <updatecheck>/, 34],
    ['an unknown updatecheck status', offerXml({ updatecheck: 'status="maybe"' }), 'ERR_OMAHA_RESPONSE_INVALID', /"maybe"/, 34],
    ['an empty <urls>', offerXml({ urls: '<urls></urls>' }), 'ERR_OMAHA_RESPONSE_INVALID', /no <url/, 34],
    ['no manifest', offerXml({ manifest: '' }), 'ERR_OMAHA_RESPONSE_INVALID', /no <manifest>/, 34],
    [
      'a manifest without version',
      offerXml({ manifest: '<manifest><packages><package name="p" size="1"/></packages></manifest>' }),
      'ERR_OMAHA_RESPONSE_INVALID',
      /no version/,
      34,
    ],
    ['no package', offerXml({ pkg: '' }), 'ERR_OMAHA_RESPONSE_INVALID', /no <package>/, 34],
    ['a package without name', offerXml({ pkg: '<package size="5"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /no name/, 34],
    ['a package name with a slash', offerXml({ pkg: '<package name="../x" size="5"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /not a file name/, 34],
    ['size 0', offerXml({ pkg: '<package name="p" size="0"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /size "0"/, 34],
    ['a negative size', offerXml({ pkg: '<package name="p" size="-5"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /size "-5"/, 34],
    ['no size', offerXml({ pkg: '<package name="p"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /size ""/, 34],
    ['no postinstall sha256', offerXml({ action: '<action event="postinstall"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /SHA-256 is required/, 34],
    ['a sha256 that is not one', offerXml({ action: '<action event="postinstall" sha256="abc"/>' }), 'ERR_OMAHA_RESPONSE_INVALID', /not a base64 SHA-256/, 34],
    ['no app for our appid', offerXml().replace(APP, '{someone-else}'), 'ERR_OMAHA_RESPONSE_INVALID', /no <app> for appid/, 34],
    [
      'app status error-unknownApplicationOrGroup',
      offerXml({ appStatus: 'error-unknownApplicationOrGroup' }),
      'ERR_OMAHA_SERVER_ERROR',
      /check APP_ID and GROUP/,
      37,
    ],
    [
      'app status error-failedToRetrieveUpdatePackageInfo',
      offerXml({ appStatus: 'error-failedToRetrieveUpdatePackageInfo' }),
      'ERR_OMAHA_SERVER_ERROR',
      /unknown app id or track/,
      37,
    ],
    ['app status error-couldNotCheckUpdatesStats', offerXml({ appStatus: 'error-couldNotCheckUpdatesStats' }), 'ERR_OMAHA_SERVER_ERROR', /statistics/, 37],
    ['app status error-noPackageFound', offerXml({ appStatus: 'error-noPackageFound' }), 'ERR_OMAHA_SERVER_ERROR', /no channel or no package/, 37],
    ['updatecheck status error-internal', offerXml({ updatecheck: 'status="error-internal"' }), 'ERR_OMAHA_SERVER_ERROR', /"error-internal"/, 37],
  ];
  for (const [name, xml, code, message, omaha] of cases) {
    it(`${name}: ${code} (Omaha ${omaha})`, () => {
      const err = failure(() => parseUpdateCheckResponse(xml, { appId: APP }));
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
      expect(omahaErrorCode(err)).toBe(omaha);
    });
  }

  it('refuses a response over 1 MiB before parsing it', () => {
    const huge = offerXml().replace('</response>', `<pad>${'x'.repeat(MAX_RESPONSE_BYTES)}</pad></response>`);
    const err = failure(() => parseUpdateCheckResponse(Buffer.from(huge), { appId: APP }));
    expect(err.code).toBe('ERR_OMAHA_PARSE');
    expect(err.message).toMatch(/larger than 1 MiB/);
  });

  it('accepts a response of exactly 1 MiB', () => {
    const base = offerXml().replace('</response>', '<pad></pad></response>');
    const xml = base.replace('<pad></pad>', `<pad>${'x'.repeat(MAX_RESPONSE_BYTES - Buffer.byteLength(base))}</pad>`);
    expect(Buffer.byteLength(xml)).toBe(MAX_RESPONSE_BYTES);
    expect(parseUpdateCheckResponse(xml, { appId: APP }).kind).toBe('update');
  });
});

describe('parseEventResponse', () => {
  it("accepts Nebraska's acknowledgement", () => {
    expect(() =>
      parseEventResponse(
        `<response protocol="3.0" server="nebraska"><daystart elapsed_seconds="0"></daystart><app appid="${APP}" status="ok"><event status="ok"></event></app></response>`,
        { appId: APP },
      ),
    ).not.toThrow();
  });

  it('reports an app error', () => {
    const err = failure(() => parseEventResponse(`<response><app appid="${APP}" status="error-unknownApplicationOrGroup"/></response>`, { appId: APP }));
    expect(err.code).toBe('ERR_OMAHA_SERVER_ERROR');
    expect(err.message).toContain('error-unknownApplicationOrGroup');
  });

  it('reports malformed XML', () => {
    expect(failure(() => parseEventResponse('<response><app></response>')).code).toBe('ERR_OMAHA_PARSE');
  });
});
