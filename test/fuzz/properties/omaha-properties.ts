// Fuzz properties of the Omaha response parser: any input gives a complete offer, a no-update, or an
// ERR_OMAHA_* error; entities are never expanded; the size cap holds; generated offers parse exactly.

import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { isVersion } from '../../../src/config/values.ts';
import type { CheckResult } from '../../../src/omaha/offer.ts';
import { MAX_POLL_INTERVAL_MS, MIN_POLL_INTERVAL_MS } from '../../../src/omaha/offer.ts';
import { parseEventResponse, parseUpdateCheckResponse } from '../../../src/omaha/response-parser.ts';
import { deepNestingArb, entityAttackArb, mutatedFixtureArb, nearCapBodyArb, OMAHA_FIXTURES, xmlSoupArb } from './omaha-generators.ts';
import { offerModelArb } from './omaha-model.ts';
import { ensure, ensureEngineError, fuzzProperty, type FuzzSuite } from './fuzz-suite.ts';

const PARSER = 'Omaha response';
const OMAHA = { prefixes: ['ERR_OMAHA_'] };
const NEBRASKA_OK = OMAHA_FIXTURES.find((f) => f.name === 'nebraska-ok.xml')?.text ?? '';

/** Every field an offer promises is there and valid, and no string is longer than the body (nothing was expanded). */
export function checkResult(result: CheckResult, bodyLength: number): void {
  ensure(typeof result.appId === 'string' && result.appId.length <= bodyLength, 'appId');
  if (result.pollIntervalMs !== undefined)
    ensure(result.pollIntervalMs >= MIN_POLL_INTERVAL_MS && result.pollIntervalMs <= MAX_POLL_INTERVAL_MS, `pollIntervalMs ${result.pollIntervalMs}`);
  if (result.server !== undefined) ensure(result.server.length <= bodyLength, 'server longer than the body');
  if (result.kind === 'noupdate') return;
  ensure(result.kind === 'update', `kind ${String((result as { kind: unknown }).kind)}`);
  ensure(isVersion(result.version) && result.version.length <= bodyLength, `version "${result.version}" is not semver-like`);
  ensure(
    result.packageName !== '' && !result.packageName.includes('/') && result.packageName !== '.' && result.packageName !== '..',
    `packageName "${result.packageName}"`,
  );
  ensure(result.urls.length > 0, 'no urls');
  for (const url of result.urls)
    ensure(url.endsWith(`/${result.packageName}`) && url.length > result.packageName.length + 1 && url.length <= bodyLength, `url "${url}"`);
  ensure(Number.isSafeInteger(result.sizeBytes) && result.sizeBytes > 0, `sizeBytes ${result.sizeBytes}`);
  ensure(/^[A-Za-z0-9+/]{43}=$/.test(result.sha256Base64) && Buffer.from(result.sha256Base64, 'base64').length === 32, `sha256 "${result.sha256Base64}"`);
  ensure(Number.isSafeInteger(result.maxFailureCountPerUrl) && result.maxFailureCountPerUrl > 0, `maxFailureCountPerUrl ${result.maxFailureCountPerUrl}`);
  ensure(typeof result.disablePayloadBackoff === 'boolean' && typeof result.isDeltaPayload === 'boolean', 'flags');
}

/** Feeds a body (as given, and as the other of string/Buffer) to both parsers, with and without an app id. */
export function parseEverywhere(body: string | Buffer, appIds: ReadonlyArray<string | undefined> = [undefined]): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const length = typeof body === 'string' ? body.length : Math.max(body.length, text.length);
  for (const input of [body, typeof body === 'string' ? Buffer.from(body) : text]) {
    for (const appId of appIds) {
      const options = appId === undefined ? {} : { appId };
      let result: CheckResult | undefined;
      try {
        result = parseUpdateCheckResponse(input, options);
      } catch (e) {
        ensureEngineError(e, OMAHA, 'parseUpdateCheckResponse');
      }
      if (result) checkResult(result, length);
      try {
        parseEventResponse(input, options);
      } catch (e) {
        ensureEngineError(e, OMAHA, 'parseEventResponse');
      }
    }
  }
}

export function createOmahaFuzz(): FuzzSuite {
  const anyString = fuzzProperty(
    PARSER,
    'any string or byte sequence: an offer with every field, no update, or ERR_OMAHA_*',
    300,
    fc.property(
      fc.oneof(
        xmlSoupArb,
        deepNestingArb,
        fc.string({ unit: 'binary', maxLength: 500 }),
        fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
      ),
      (body) => parseEverywhere(body),
    ),
    // Found by these properties: fast-xml-parser's own errors (nesting over 100, reserved names, an
    // unclosed processing instruction) passed the validator and escaped as plain Errors.
    [
      ['<response><__proto__></__proto__></response>'],
      [`<response>${'<a>'.repeat(101)}${'</a>'.repeat(101)}</response>`],
      ['<?xml version=""" encoding="UTF-8"?>\n<response protocol="3.0"><app appid="x" status="ok"></app></response>'],
    ],
  );
  const mutated = fuzzProperty(
    PARSER,
    'mutated fixtures: an offer with every field, no update, or ERR_OMAHA_*',
    400,
    fc.property(mutatedFixtureArb, fc.constantFrom(undefined, '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', 'other'), ({ text }, appId) =>
      parseEverywhere(text, [appId]),
    ),
    // Found by the model property: an offer whose version is not semver-like ("latest") was accepted,
    // and the daemon's version comparison then failed with ERR_INTERNAL.
    [[{ fixture: 'nebraska-ok.xml', text: NEBRASKA_OK.replace('manifest version="3374.2.0"', 'manifest version="latest"') }, undefined]],
  );
  const entities = fuzzProperty(
    PARSER,
    'entity declarations (billion laughs, external, parameter) are refused with ERR_OMAHA_PARSE',
    200,
    fc.property(entityAttackArb, (body) => {
      for (const input of [body, Buffer.from(body)]) {
        try {
          parseUpdateCheckResponse(input);
        } catch (e) {
          ensure(
            ensureEngineError(e, { codes: ['ERR_OMAHA_PARSE'] }, 'parseUpdateCheckResponse').message.includes('DOCTYPE'),
            'refused for another reason than the DOCTYPE',
          );
          continue;
        }
        throw new Error('a document with entity declarations was accepted');
      }
    }),
  );
  const nearCap = fuzzProperty(
    PARSER,
    'bodies around 1 MiB: over the cap ERR_OMAHA_PARSE "larger than 1 MiB", under it parsed or ERR_OMAHA_*',
    12,
    fc.property(nearCapBodyArb, ({ body, bytes }) => {
      try {
        checkResult(parseUpdateCheckResponse(body), bytes);
        ensure(bytes <= 1024 * 1024, `a body of ${bytes} bytes was accepted`);
      } catch (e) {
        const err = ensureEngineError(e, OMAHA, 'parseUpdateCheckResponse');
        ensure(bytes > 1024 * 1024 === err.message.includes('larger than 1 MiB'), () => `${bytes} bytes: ${err.message}`);
      }
    }),
  );
  const model = fuzzProperty(
    PARSER,
    'generated offers in any server style parse to exactly the modelled offer; a broken required field gives ERR_OMAHA_RESPONSE_INVALID',
    300,
    fc.property(offerModelArb, ({ xml, requestAppId, expected }) => {
      const options = requestAppId === undefined ? {} : { appId: requestAppId };
      let result: CheckResult;
      try {
        result = parseUpdateCheckResponse(xml, options);
      } catch (e) {
        const err = ensureEngineError(e, OMAHA, 'parseUpdateCheckResponse');
        ensure('broken' in expected && err.code === 'ERR_OMAHA_RESPONSE_INVALID', () => `${err.code}: ${err.message} (expected ${JSON.stringify(expected)})`);
        return;
      }
      ensure(!('broken' in expected), () => `a response with ${JSON.stringify(expected)} was accepted: ${JSON.stringify(result)}`);
      checkResult(result, xml.length);
      ensure(isDeepStrictEqual(result, expected), () => `parsed ${JSON.stringify(result)}\nexpected ${JSON.stringify(expected)}`);
    }),
  );
  return { properties: [anyString, mutated, entities, nearCap, model], setUp: async () => {}, tearDown: async () => {} };
}
