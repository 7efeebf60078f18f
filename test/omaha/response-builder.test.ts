// Responses in Nebraska's shape, read back by our own parser (the client and the dev server agree).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOmahaResponse } from '../../src/omaha/response-builder.ts';
import { parseUpdateCheckResponse } from '../../src/omaha/response-parser.ts';
import { childOf, childrenOf, parseXmlDocument } from '../../src/omaha/xml-tree.ts';

const SHA = '/kxm4FqtXuc0/qYLo9U2yccqNmEXMsWEdtKJ7nXtPaM=';
const offer = {
  kind: 'update' as const,
  codebase: 'https://update.example.net/amd64-usr/3374.2.0/',
  packageName: 'update.payload',
  version: '3374.2.0',
  sizeBytes: 360141900,
  sha256Base64: SHA,
  sha1Base64: 'e2jgE9Ky/yeJ1q+GsDh/Hlb37cw=',
};

describe('buildOmahaResponse', () => {
  it("writes the same document as Nebraska's (one line, no self-closing tags)", () => {
    const ours = buildOmahaResponse([{ appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', ping: true, events: 1, updateCheck: offer }], 'nebraska');
    expect(ours).toBe(readFileSync(new URL('../../fixtures/omaha/nebraska-ok.xml', import.meta.url), 'utf8'));
  });

  it('is read back by the client parser, PollInterval and MaxFailureCountPerUrl included', () => {
    const xml = buildOmahaResponse([{ appId: '{a}', ping: false, events: 0, updateCheck: { ...offer, pollIntervalSeconds: 7200, maxFailureCountPerUrl: 4 } }]);
    expect(parseUpdateCheckResponse(xml, { appId: '{a}' })).toMatchObject({
      kind: 'update',
      version: '3374.2.0',
      urls: ['https://update.example.net/amd64-usr/3374.2.0/update.payload'],
      pollIntervalMs: 7_200_000,
      maxFailureCountPerUrl: 4,
    });
  });

  it('writes noupdate, and errors with the reason as app status', () => {
    expect(parseUpdateCheckResponse(buildOmahaResponse([{ appId: '{a}', ping: true, events: 0, updateCheck: { kind: 'noupdate' } }])).kind).toBe('noupdate');
    const root = parseXmlDocument(
      buildOmahaResponse([{ appId: '{a}', ping: false, events: 0, updateCheck: { kind: 'error', reason: 'error-noPackageFound' } }]),
      1e6,
    );
    expect(childOf(root, 'app')?.attributes.get('status')).toBe('error-noPackageFound');
    expect(childOf(childOf(root, 'app'), 'updatecheck')?.attributes.get('status')).toBe('error-internal');
  });

  it('acknowledges each event and escapes values', () => {
    const root = parseXmlDocument(buildOmahaResponse([{ appId: '{a"<&>}', ping: false, events: 3 }]), 1e6);
    expect(childrenOf(childOf(root, 'app'), 'event')).toHaveLength(3);
    expect(childOf(root, 'app')?.attributes.get('appid')).toBe('{a"<&>}');
  });
});
