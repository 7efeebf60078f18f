import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UpdateEngineError } from '../../src/errors.ts';
import {
  compareBytes,
  formatSemaphore,
  holdsSemaphore,
  initialSemaphore,
  lockSemaphore,
  parseSemaphore,
  setSemaphoreMax,
  unlockSemaphore,
  type Semaphore,
} from '../../src/lock/semaphore.ts';

const sem = (semaphore: number, max: number, holders: string[] = []): Semaphore => ({ semaphore, max, holders });

function errorOf(f: () => unknown): { code: string; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(UpdateEngineError);
    return { code: (e as UpdateEngineError).code, message: (e as Error).message };
  }
}

describe('parseSemaphore', () => {
  it.each([
    ['locksmith value with holders', '{"semaphore":0,"max":1,"holders":["a"]}', sem(0, 1, ['a'])],
    ['holders null (Go nil slice)', '{"semaphore":1,"max":1,"holders":null}', sem(1, 1)],
    ['holders empty', '{"semaphore":1,"max":1,"holders":[]}', sem(1, 1)],
    ['holders missing', '{"semaphore":2,"max":2}', sem(2, 2)],
    ['unsorted holders are sorted', '{"semaphore":0,"max":3,"holders":["c","a","b"]}', sem(0, 3, ['a', 'b', 'c'])],
    ['byte order, not locale order', '{"semaphore":0,"max":3,"holders":["b","B","a"]}', sem(0, 3, ['B', 'a', 'b'])],
    ['unknown fields ignored', '{"semaphore":1,"max":1,"holders":[],"extra":true}', sem(1, 1)],
    ['negative free count (after set-max)', '{"semaphore":-1,"max":1,"holders":["a","b"]}', sem(-1, 1, ['a', 'b'])],
    ['missing numbers are 0, as Go unmarshals them', '{"holders":["a"]}', sem(0, 0, ['a'])],
  ])('%s', (_name, text, expected) => {
    expect(parseSemaphore(text)).toEqual(expected);
  });

  it.each([
    ['not JSON', '{semaphore:1'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['semaphore as string', '{"semaphore":"1","max":1}'],
    ['fractional max', '{"semaphore":1,"max":1.5}'],
    ['holders not a list', '{"semaphore":1,"max":1,"holders":"a"}'],
    ['holders with a number', '{"semaphore":1,"max":1,"holders":[1]}'],
  ])('refuses %s with ERR_LOCK_VALUE quoting the value', (_name, text) => {
    const err = errorOf(() => parseSemaphore(text));
    expect(err?.code).toBe('ERR_LOCK_VALUE');
    expect(err?.message).toContain(JSON.stringify(text));
  });
});

describe('formatSemaphore', () => {
  it("writes locksmith's field order and a list for no holders", () => {
    expect(formatSemaphore(sem(1, 1, ['x']))).toBe('{"semaphore":1,"max":1,"holders":["x"]}');
    expect(formatSemaphore(initialSemaphore())).toBe('{"semaphore":1,"max":1,"holders":[]}');
  });
  it('round-trips any valid semaphore', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 10 }), fc.integer({ min: 0, max: 10 }), fc.uniqueArray(fc.string({ minLength: 1 })), (s, m, hs) => {
        const value = sem(s, m, [...hs].sort(compareBytes));
        expect(parseSemaphore(formatSemaphore(value))).toEqual(value);
      }),
    );
  });
});

describe('lock, unlock, set-max', () => {
  it.each([
    ['first holder', sem(1, 1), 'a', sem(0, 1, ['a'])],
    ['inserted in sorted place', sem(2, 4, ['a', 'c']), 'b', sem(1, 4, ['a', 'b', 'c'])],
    ['appended at the end', sem(1, 2, ['a']), 'z', sem(0, 2, ['a', 'z'])],
  ])('lock: %s', (_name, before, holder, after) => {
    expect(lockSemaphore(before, holder)).toEqual(after);
  });

  it.each([
    ['no free slot', sem(0, 1, ['a']), 'b', 'ERR_LOCK_UNAVAILABLE', 'semaphore is at 0'],
    [
      'negative free count (corrupt: issue 14)',
      sem(-2, 1, ['a', 'b', 'c']),
      'd',
      'ERR_LOCK_VALUE',
      'The reboot semaphore is corrupt (its free count is -2); no slot is taken until it is repaired with "locksmithctl set-max N" (after unlocking holders beyond N)',
    ],
    [
      'more holders than max (corrupt)',
      sem(0, 1, ['a', 'b']),
      'd',
      'ERR_LOCK_VALUE',
      'The reboot semaphore is corrupt (2 holders exceed its max of 1); no slot is taken until it is repaired with "locksmithctl set-max N" (after unlocking holders beyond N)',
    ],
    [
      'more free slots than max allows (forged)',
      sem(5, 1, []),
      'd',
      'ERR_LOCK_VALUE',
      'The reboot semaphore is corrupt (free count 5 + 0 holders exceed its max of 1); no slot is taken until it is repaired with "locksmithctl set-max N" (after unlocking holders beyond N)',
    ],
    ['holder twice', sem(1, 2, ['a']), 'a', 'ERR_LOCK_DUPLICATE_HOLDER', 'holder exists'],
  ])('lock fails: %s', (_name, before, holder, code, message) => {
    expect(errorOf(() => lockSemaphore(before, holder))).toEqual({ code, message });
  });

  it.each([
    ['the only holder', sem(0, 1, ['a']), 'a', sem(1, 1, [])],
    ['one of several', sem(0, 3, ['a', 'b', 'c']), 'b', sem(1, 3, ['a', 'c'])],
  ])('unlock: %s', (_name, before, holder, after) => {
    expect(unlockSemaphore(before, holder)).toEqual(after);
  });

  it('unlock of a non-holder fails with "holder does not exist"', () => {
    expect(errorOf(() => unlockSemaphore(sem(0, 1, ['a']), 'b'))).toEqual({ code: 'ERR_LOCK_NOT_HOLDER', message: 'holder does not exist' });
  });

  it.each([
    ['raise with no holders', sem(1, 1), 4, sem(4, 4)],
    ['raise with a holder', sem(0, 1, ['a']), 3, sem(2, 3, ['a'])],
    ['lower below the holders: free count goes negative', sem(0, 2, ['a', 'b']), 1, sem(-1, 1, ['a', 'b'])],
    ['same max', sem(1, 2, ['a']), 2, sem(1, 2, ['a'])],
    ['repairs a corrupt value (issue 14)', sem(5, 1, ['a']), 1, sem(0, 1, ['a'])],
  ])('set-max: %s', (_name, before, max, after) => {
    expect(setSemaphoreMax(before, max)).toEqual(after);
  });

  it('set-max refuses a negative or fractional max', () => {
    expect(errorOf(() => setSemaphoreMax(sem(1, 1), -1))?.code).toBe('ERR_USAGE');
    expect(errorOf(() => setSemaphoreMax(sem(1, 1), 1.5))?.code).toBe('ERR_USAGE');
  });

  it('keeps the invariant semaphore = max - holders through any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('lock' as const), id: fc.constantFrom('a', 'b', 'c', 'd') }),
      fc.record({ kind: fc.constant('unlock' as const), id: fc.constantFrom('a', 'b', 'c', 'd') }),
      fc.record({ kind: fc.constant('max' as const), max: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let s = initialSemaphore();
        for (const o of ops) {
          try {
            s = o.kind === 'lock' ? lockSemaphore(s, o.id) : o.kind === 'unlock' ? unlockSemaphore(s, o.id) : setSemaphoreMax(s, o.max);
          } catch (e) {
            expect(e).toBeInstanceOf(UpdateEngineError);
          }
          expect(s.semaphore).toBe(s.max - s.holders.length);
          expect([...s.holders].sort(compareBytes)).toEqual(s.holders);
          expect(new Set(s.holders).size).toBe(s.holders.length);
        }
      }),
    );
  });

  it('holdsSemaphore', () => {
    expect(holdsSemaphore(sem(0, 1, ['a']), 'a')).toBe(true);
    expect(holdsSemaphore(sem(0, 1, ['a']), 'b')).toBe(false);
  });
});
