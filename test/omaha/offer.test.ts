// PollInterval clamping, payload URLs, and the size/SHA-256 comparison with the offer.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { checkPayloadAgainstOffer, clampPollIntervalMs, payloadUrl } from '../../src/omaha/offer.ts';

const content = Buffer.from('payload bytes');
const sha = createHash('sha256').update(content).digest('base64');
const offer = { version: '2.0.0', sizeBytes: content.length, sha256Base64: sha };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof UpdateEngineError ? e.code : 'not an UpdateEngineError';
  }
  return undefined;
}

describe('clampPollIntervalMs', () => {
  const cases: Array<[number | undefined, number | undefined]> = [
    [undefined, undefined],
    [0, undefined],
    [-5, undefined],
    [Number.NaN, undefined],
    [1, 2_700_000],
    [2700, 2_700_000],
    [5000, 5_000_000],
    [14_400, 14_400_000],
    [1e9, 14_400_000],
  ];
  for (const [seconds, ms] of cases) it(`${seconds} s -> ${ms} ms`, () => expect(clampPollIntervalMs(seconds)).toBe(ms));
});

describe('payloadUrl', () => {
  it('joins codebase and name with exactly one slash', () => {
    expect(payloadUrl('http://h/a', 'p.gz')).toBe('http://h/a/p.gz');
    expect(payloadUrl('http://h/a/', 'p.gz')).toBe('http://h/a/p.gz');
  });
});

describe('checkPayloadAgainstOffer', () => {
  it('accepts the right size and hash and says the hash was checked', () => {
    expect(checkPayloadAgainstOffer(offer, { sizeBytes: content.length, sha256Base64: sha })).toBe(true);
  });

  it('checks only the size when the hash is unknown (resumed apply)', () => {
    expect(checkPayloadAgainstOffer(offer, { sizeBytes: content.length })).toBe(false);
  });

  it('refuses another size', () => {
    expect(codeOf(() => checkPayloadAgainstOffer(offer, { sizeBytes: content.length + 1, sha256Base64: sha }))).toBe('ERR_PAYLOAD_SIZE_MISMATCH');
  });

  it('refuses another hash', () => {
    const other = createHash('sha256').update('other').digest('base64');
    expect(codeOf(() => checkPayloadAgainstOffer(offer, { sizeBytes: content.length, sha256Base64: other }))).toBe('ERR_PAYLOAD_HASH_MISMATCH');
  });

  it('refuses an empty or truncated hash', () => {
    expect(codeOf(() => checkPayloadAgainstOffer(offer, { sizeBytes: content.length, sha256Base64: '' }))).toBe('ERR_PAYLOAD_HASH_MISMATCH');
    expect(codeOf(() => checkPayloadAgainstOffer(offer, { sizeBytes: content.length, sha256Base64: sha.slice(0, 20) }))).toBe('ERR_PAYLOAD_HASH_MISMATCH');
  });
});
