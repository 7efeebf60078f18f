import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERRORS, UpdateEngineError, classify, exitCodeFor, omahaErrorCode, wrapError, OMAHA_ERROR } from '../src/errors.ts';

describe('error model', () => {
  it('classifies every code', () => {
    for (const code of ERROR_CODES) expect(['retry', 'backoff', 'fail']).toContain(classify(code));
  });
  it.each([
    ['ERR_OMAHA_REQUEST', 'retry'],
    ['ERR_DOWNLOAD_TRANSFER', 'retry'],
    ['ERR_PAYLOAD_HASH_MISMATCH', 'backoff'],
    ['ERR_PAYLOAD_SIGNATURE', 'fail'],
    ['ERR_CONFIG_VALUE', 'fail'],
  ] as const)('%s is %s', (code, cls) => expect(classify(code)).toBe(cls));

  it.each([
    ['ERR_OMAHA_PARSE', 31],
    ['ERR_OMAHA_RESPONSE_INVALID', 34],
    ['ERR_OMAHA_EMPTY', 30],
    ['ERR_OMAHA_SERVER_ERROR', 37],
    ['ERR_DOWNLOAD_TRANSFER', 9],
    ['ERR_PAYLOAD_HASH_MISMATCH', 10],
    ['ERR_PAYLOAD_SIZE_MISMATCH', 11],
    ['ERR_PAYLOAD_FORMAT', 12],
    ['ERR_DOWNLOAD_WRITE', 14],
    ['ERR_IMAGE_VERIFICATION', 15],
    ['ERR_PAYLOAD_SIGNATURE', 18],
    ['ERR_DOWNLOAD_STATE', 20],
    ['ERR_ROLLBACK', 44],
    ['ERR_INSTALL_DEVICE', 7],
    ['ERR_INTERNAL', 1],
  ] as const)('%s maps to Omaha code %d', (code, omaha) => expect(omahaErrorCode(code)).toBe(omaha));

  it('maps an HTTP failure of the check to 2000 + status', () => {
    expect(omahaErrorCode(new UpdateEngineError('ERR_OMAHA_HTTP', 'x', { httpStatus: 503 }))).toBe(2503);
    expect(omahaErrorCode('ERR_OMAHA_HTTP')).toBe(OMAHA_ERROR.omahaRequestError);
  });

  it('has an exit code for every code, 0 for none', () => {
    for (const code of ERROR_CODES) expect(exitCodeFor(code)).toBeGreaterThan(0);
    expect(exitCodeFor('ERR_USAGE')).toBe(2);
    expect(exitCodeFor('ERR_CONFIG_VALUE')).toBe(3);
  });

  it('wraps foreign errors, keeping the cause, and leaves ours alone', () => {
    const cause = new Error('EIO: i/o error');
    const w = wrapError(cause, 'ERR_DOWNLOAD_WRITE', 'Cannot write "/dev/sda4"');
    expect(w.code).toBe('ERR_DOWNLOAD_WRITE');
    expect(w.message).toBe('Cannot write "/dev/sda4": EIO: i/o error');
    expect(w.cause).toBe(cause);
    const ours = new UpdateEngineError('ERR_GPT_IO', 'x');
    expect(wrapError(ours, 'ERR_INTERNAL', 'y')).toBe(ours);
  });

  it('describes every code in the one table', () => {
    expect(ERROR_CODES).toEqual(Object.keys(ERRORS));
    for (const code of ERROR_CODES) expect(ERRORS[code].means.length).toBeGreaterThan(0);
  });

  it('has no switch with a default branch in src (a new code or value must be handled on purpose)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        // A switch's default branch; not an object property named default (`default: 'value',`).
        else if (path.endsWith('.ts') && /^\s*default\s*:(?![^\n]*,\s*$)/m.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});
