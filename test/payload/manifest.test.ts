// The manifest schema (table-driven), its serialization, and the pure checks against a machine.

import { describe, expect, it } from 'vitest';
import {
  checkExpectation,
  checkFits,
  imageBlockLength,
  MANIFEST_MAX_BYTES,
  parseManifest,
  serializeManifest,
  type PayloadManifest,
} from '../../src/payload/manifest.ts';

const GOOD: PayloadManifest = {
  formatVersion: 1,
  version: '3374.2.0',
  appId: '{E96281A6-D1AF-4BDE-9A0A-97B76E56DC57}',
  board: 'amd64-usr',
  imageSize: 3 * 4096 + 1,
  blockSize: 4096,
  blockCount: 4,
  compression: 'gzip',
  imageSha256: 'a'.repeat(64),
  blockTableSha256: 'b'.repeat(64),
};
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseManifest', () => {
  it('round-trips through serializeManifest byte for byte', () => {
    const text = serializeManifest(GOOD);
    expect(parseManifest(text)).toEqual(GOOD);
    expect(serializeManifest(parseManifest(text)).equals(text)).toBe(true);
    expect(text.toString()).toMatch(/^\{\n {2}"formatVersion": 1,\n {2}"version": "3374.2.0",\n {2}"appId"/);
  });

  it('accepts a manifest without app id and board', () => {
    const { appId: _a, board: _b, ...rest } = GOOD;
    expect(parseManifest(bytes(rest))).toEqual(rest);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['format version 0', { formatVersion: 0 }, '"formatVersion": expected 1 or 2'],
    [
      'format version 2 without a chunk index',
      { formatVersion: 2 },
      '"formatVersion": formatVersion 2 needs chunkScheme, chunkCount and chunkIndexSha256; formatVersion 1 may not carry them',
    ],
    [
      'format version 1 with a chunk scheme',
      { chunkScheme: 'fixed-4k' },
      '"formatVersion": formatVersion 2 needs chunkScheme, chunkCount and chunkIndexSha256; formatVersion 1 may not carry them',
    ],
    ['a version that is not semver-like', { version: 'latest' }, '"version": expected a semver-like version, e.g. 3374.2.0'],
    ['an empty app id', { appId: '' }, '"appId": Too small: expected string to have >=1 characters'],
    ['a board with a space', { board: 'amd 64' }, '"board": expected printable ASCII without spaces'],
    ['a zero image size', { imageSize: 0, blockCount: 0 }, '"imageSize": Too small: expected number to be >=1'],
    ['a block size that is not a power of two', { blockSize: 6000 }, '"blockSize": expected a power of two'],
    ['a block size over 64 MiB', { blockSize: 128 * 1024 * 1024 }, '"blockSize": Too big: expected number to be <=67108864'],
    ['a wrong block count', { blockCount: 3 }, '"blockCount": blockCount must be ceil(imageSize / blockSize)'],
    ['an unknown compression', { compression: 'zstd' }, '"compression": Invalid option: expected one of "none"|"gzip"|"brotli"'],
    ['an uppercase hash', { imageSha256: 'A'.repeat(64) }, '"imageSha256": expected 64 lowercase hex digits (SHA-256)'],
    ['an unknown key', { extra: 1 }, 'Unrecognized key: "extra"'],
  ];
  for (const [what, change, message] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parseManifest(bytes({ ...GOOD, ...change }))).toThrow(
        expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT', message: expect.stringContaining(message) }),
      );
    });
  }

  it('refuses text that is not JSON', () => {
    expect(() => parseManifest(Buffer.from('{"formatVersion": 1,'))).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT', message: expect.stringMatching(/^Payload manifest is not valid JSON: /) }),
    );
  });

  it('refuses to serialize a manifest over the cap', () => {
    expect(() => serializeManifest({ ...GOOD, board: 'x'.repeat(MANIFEST_MAX_BYTES) })).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT' }));
  });
});

describe('checkExpectation', () => {
  const machine = { appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', board: 'amd64-usr', runningVersion: '3374.1.0', allowDowngrade: false };
  it('accepts a newer version for this app id (case-insensitive) and board', () => {
    expect(checkExpectation(GOOD, machine)).toEqual({ downgradeAllowed: false, versionUnchecked: false });
  });
  it('says when the version was not compared', () => {
    const { runningVersion: _r, ...noVersion } = machine;
    expect(checkExpectation(GOOD, noVersion)).toEqual({ downgradeAllowed: false, versionUnchecked: true });
  });
  it('says so when the running version itself is malformed', () => {
    expect(() => checkExpectation(GOOD, { ...machine, runningVersion: 'abc' })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_VALUE',
        message: 'The running version "abc" is not semver-like: cannot compare it with the payload\'s "3374.2.0"',
      }),
    );
  });
  it('refuses a board when the machine has none', () => {
    const { board: _b, ...noBoard } = machine;
    expect(() => checkExpectation(GOOD, noBoard)).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_TARGET', message: 'Payload is for board "amd64-usr", this machine has no BOARD set' }),
    );
  });
  const versions: Array<[string, boolean]> = [
    ['3374.2.0', false],
    ['3374.2.1', false],
    ['3374.2.0-rc.1', true],
    ['3375', false],
  ];
  for (const [running, newer] of versions) {
    it(`running ${running}: payload 3374.2.0 is ${newer ? 'newer' : 'not newer'}`, () => {
      const call = () => checkExpectation(GOOD, { ...machine, runningVersion: running });
      if (newer) expect(call()).toEqual({ downgradeAllowed: false, versionUnchecked: false });
      else expect(call).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_DOWNGRADE' }));
      if (!newer)
        expect(checkExpectation(GOOD, { ...machine, runningVersion: running, allowDowngrade: true })).toEqual({
          downgradeAllowed: true,
          versionUnchecked: false,
        });
    });
  }
});

describe('checkFits and imageBlockLength', () => {
  it('accepts an image of exactly the slot size and refuses one byte more', () => {
    expect(() => checkFits(GOOD, GOOD.imageSize, 'slot')).not.toThrow();
    expect(() => checkFits(GOOD, GOOD.imageSize - 1, 'slot')).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_TOO_LARGE', message: 'Image of 12289 bytes does not fit write target "slot" (12288 bytes)' }),
    );
  });
  it('gives the last block its remainder', () => {
    expect([0, 1, 2, 3].map((i) => imageBlockLength(GOOD, i))).toEqual([4096, 4096, 4096, 1]);
  });
});
