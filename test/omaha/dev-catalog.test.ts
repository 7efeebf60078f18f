// The development server's choice: newest payload newer than the client, on the server's track.

import { describe, expect, it } from 'vitest';
import { checkCatalog, selectPayload, type DevPayload } from '../../src/omaha/dev-catalog.ts';

const payload = (index: number, version: string): DevPayload => ({
  index,
  path: `/p/${version}.payload`,
  fileName: `${version}.payload`,
  version,
  sizeBytes: 1,
  sha256Base64: '',
  sha1Base64: '',
});
const catalog = [payload(0, '1.2.0'), payload(1, '1.10.0'), payload(2, '1.3.0-rc.1'), payload(3, '1.3.0')];

describe('selectPayload', () => {
  const cases: Array<[string, string, string | undefined, string | undefined]> = [
    ['1.0.0', 'stable', undefined, '1.10.0'],
    ['1.9.9', 'beta', undefined, '1.10.0'],
    ['1.10.0', 'stable', undefined, undefined],
    ['2.0.0', 'stable', undefined, undefined],
    ['1.0.0', 'stable', 'stable', '1.10.0'],
    ['1.0.0', 'beta', 'stable', undefined],
    ['not-a-version', 'stable', undefined, undefined],
  ];
  for (const [version, track, serverTrack, expected] of cases) {
    it(`client ${version} on ${track} (server track ${serverTrack ?? 'any'}) -> ${expected ?? 'noupdate'}`, () => {
      expect(selectPayload(catalog, { version, track }, serverTrack)?.version).toBe(expected);
    });
  }

  it('orders prereleases before their release', () => {
    expect(selectPayload([payload(0, '1.3.0-rc.1'), payload(1, '1.3.0')], { version: '1.2.0', track: '' })?.version).toBe('1.3.0');
    expect(selectPayload([payload(0, '1.3.0-rc.1')], { version: '1.2.0', track: '' })?.version).toBe('1.3.0-rc.1');
  });
});

describe('checkCatalog', () => {
  it('refuses two payloads of the same version', () => {
    expect(() => checkCatalog([payload(0, '1.2.0'), payload(1, '1.2.0+build5')])).toThrow(/both hold version "1.2.0"/);
    expect(() => checkCatalog(catalog)).not.toThrow();
  });
});
