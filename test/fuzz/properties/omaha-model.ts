// A model of an Omaha update offer, written as XML in the many ways servers differ (attribute order
// and quotes, self-closing or not, line breaks, character references, unknown attributes, elements and
// apps), with the UpdateOffer the parser must return, or one required field broken on purpose.

import fc from 'fast-check';
import { versionArb } from './config-generators.ts';
import { clampPollIntervalMs, DEFAULT_MAX_FAILURE_COUNT_PER_URL, payloadUrl, type UpdateOffer } from '../../../src/omaha/offer.ts';

export type Breakage =
  | 'no-url'
  | 'no-manifest'
  | 'empty-version'
  | 'bad-version'
  | 'no-package'
  | 'bad-name'
  | 'bad-size'
  | 'no-sha256'
  | 'bad-sha256'
  | 'bad-status';

export interface OfferModel {
  xml: string;
  /** The app id to ask for (braces and case may differ from the response's). */
  requestAppId: string | undefined;
  /** The offer the parser must return, or the breakage that must make it fail with ERR_OMAHA_RESPONSE_INVALID. */
  expected: UpdateOffer | { broken: Breakage };
}

const textArb = fc.string({
  unit: fc.oneof(fc.constantFrom('&', '<', '>', '"', "'", 'é', '€', '\t', ';', '#', '𝄞'), fc.string({ minLength: 1, maxLength: 1 })),
  minLength: 1,
  maxLength: 20,
});
const trimmedArb = textArb.filter((t) => t.trim() !== '' && t === t.trim());
const guidArb = fc.uuid().map((u) => `{${u}}`);

/** Escapes a value for an attribute quoted with `quote`; `mask` picks characters written as numeric references. */
function attr(value: string, quote: string, mask: number): string {
  let out = '';
  let i = 0;
  for (const ch of value) {
    const cp = ch.codePointAt(0) ?? 0;
    const asRef = ((mask >>> (i++ % 31)) & 1) === 1 || ch === '\t';
    if (asRef) out += i % 2 ? `&#${cp};` : `&#x${cp.toString(16)};`;
    else if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === quote) out += quote === '"' ? '&quot;' : '&apos;';
    else out += ch;
  }
  return out;
}

interface El {
  name: string;
  attrs: Array<[string, string]>;
  children: El[];
}

function render(el: El, s: { quote: string; selfClose: boolean; eol: string; mask: number }): string {
  const attrs = el.attrs.map(([k, v]) => ` ${k}=${s.quote}${attr(v, s.quote, s.mask)}${s.quote}`).join('');
  if (el.children.length === 0) return s.selfClose ? `<${el.name}${attrs}/>` : `<${el.name}${attrs}></${el.name}>`;
  return `<${el.name}${attrs}>${s.eol}${el.children.map((c) => render(c, s)).join(s.eol)}${s.eol}</${el.name}>`;
}

const el = (name: string, attrs: Array<[string, string] | null>, children: Array<El | null> = []): El => ({
  name,
  attrs: attrs.filter((a): a is [string, string] => a !== null),
  children: children.filter((c): c is El => c !== null),
});

export const offerModelArb: fc.Arbitrary<OfferModel> = fc
  .record({
    appId: guidArb,
    askUpper: fc.option(fc.boolean()),
    version: versionArb.map(([text]) => text),
    badVersion: fc.constantFrom('latest', 'v2.0.0', '1.2.3.4', '2.0.0 beta', '1..2', '-1'),
    codebases: fc.array(
      fc.tuple(fc.webUrl(), fc.boolean()).map(([u, slash]) => (slash ? `${u.replace(/\/$/, '')}/` : u.replace(/\/$/, ''))),
      { minLength: 1, maxLength: 3 },
    ),
    packageName: fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}$/).filter((n) => n !== '.' && n !== '..'),
    sizeBytes: fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
    sha1: fc.option(fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('base64'))),
    pollSeconds: fc.option(fc.integer({ min: 1, max: 10 ** 6 })),
    maxFailures: fc.option(fc.integer({ min: 0, max: 1000 })),
    backoff: fc.option(fc.constantFrom('true', 'TRUE', 'false', 'yes')),
    delta: fc.option(fc.constantFrom('true', 'false')),
    server: fc.option(trimmedArb),
    otherAppsBefore: fc.array(guidArb, { maxLength: 2 }),
    unknown: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-zA-Z_]{0,8}$/), textArb), { maxLength: 3, selector: ([k]) => k.toLowerCase() }),
    style: fc.record({ quote: fc.constantFrom('"', "'"), selfClose: fc.boolean(), eol: fc.constantFrom('', '\n', '\n  ', '\r\n'), mask: fc.nat() }),
    broken: fc.option(
      fc.constantFrom<Breakage>(
        'no-url',
        'no-manifest',
        'empty-version',
        'bad-version',
        'no-package',
        'bad-name',
        'bad-size',
        'no-sha256',
        'bad-sha256',
        'bad-status',
      ),
      { freq: 3 },
    ),
  })
  .map((m) => {
    const b = m.broken;
    const unknownAttrs = m.unknown.filter(
      ([k]) =>
        !/^(status|name|size|sha256|version|event|codebase|appid|hash|pollinterval|maxfailurecountperurl|disablepayloadbackoff|isdeltapayload|isdelta|server)$/i.test(
          k,
        ),
    );
    const postinstall = el('action', [
      ['event', 'postinstall'],
      b === 'no-sha256' ? null : ['sha256', b === 'bad-sha256' ? m.sha256.slice(0, 20) : m.sha256],
      m.maxFailures !== null ? ['MaxFailureCountPerUrl', String(m.maxFailures)] : null,
      m.backoff !== null ? ['DisablePayloadBackoff', m.backoff] : null,
      m.delta !== null ? ['IsDeltaPayload', m.delta] : null,
      ...unknownAttrs,
    ]);
    const pkg = el('package', [
      ['name', b === 'bad-name' ? `a/${m.packageName}` : m.packageName],
      ['size', b === 'bad-size' ? '0' : String(m.sizeBytes)],
      m.sha1 !== null ? ['hash', m.sha1] : null,
      ['required', 'true'],
    ]);
    const manifest = el(
      'manifest',
      [['version', b === 'empty-version' ? ' ' : b === 'bad-version' ? m.badVersion : m.version]],
      [
        el(
          'packages',
          [],
          b === 'no-package'
            ? []
            : [
                pkg,
                el('package', [
                  ['name', 'extra.raw'],
                  ['size', '1'],
                  ['required', 'false'],
                ]),
              ],
        ),
        el('actions', [], [el('action', [['event', 'install']]), postinstall]),
      ],
    );
    const updatecheck = el(
      'updatecheck',
      [['status', b === 'bad-status' ? 'maybe' : 'ok'], m.pollSeconds !== null ? ['PollInterval', String(m.pollSeconds)] : null],
      [
        el('urls', [], b === 'no-url' ? [] : m.codebases.map((c) => el('url', [['codebase', c]]))),
        b === 'no-manifest' ? null : manifest,
        el('vendor', [...unknownAttrs], [el('note', [])]),
      ],
    );
    const app = (id: string, children: El[]) =>
      el(
        'app',
        [
          ['appid', id],
          ['status', 'ok'],
        ],
        children,
      );
    const root = el(
      'response',
      [['protocol', '3.0'], m.server !== null ? ['server', m.server] : null],
      [
        el('daystart', [['elapsed_seconds', '0']]),
        ...m.otherAppsBefore.map((id) => app(id, [el('updatecheck', [['status', 'noupdate']])])),
        app(m.appId, [el('ping', [['status', 'ok']]), updatecheck, el('event', [['status', 'ok']])]),
      ],
    );
    const requestAppId = m.askUpper === null ? (m.otherAppsBefore.length > 0 ? m.appId : undefined) : m.askUpper ? m.appId.toUpperCase() : m.appId.slice(1, -1);
    const expected: OfferModel['expected'] =
      b !== null
        ? { broken: b }
        : {
            kind: 'update',
            appId: m.appId,
            version: m.version,
            urls: m.codebases.map((c) => payloadUrl(c, m.packageName)),
            packageName: m.packageName,
            sizeBytes: m.sizeBytes,
            sha256Base64: m.sha256,
            maxFailureCountPerUrl: m.maxFailures !== null && m.maxFailures > 0 ? m.maxFailures : DEFAULT_MAX_FAILURE_COUNT_PER_URL,
            disablePayloadBackoff: m.backoff?.toLowerCase() === 'true',
            isDeltaPayload: m.delta === 'true',
            ...(m.sha1 !== null ? { sha1Base64: m.sha1 } : {}),
            ...(m.pollSeconds !== null ? { pollIntervalMs: clampPollIntervalMs(m.pollSeconds) as number } : {}),
            ...(m.server !== null ? { server: m.server } : {}),
          };
    return { xml: `<?xml version="1.0" encoding="UTF-8"?>${m.style.eol}${render(root, m.style)}`, requestAppId, expected };
  });
