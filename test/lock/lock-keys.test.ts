import { describe, expect, it } from 'vitest';
import { goQueryEscape, idFromKey, lockKeys, semaphoreKey, v2SemaphorePath } from '../../src/lock/lock-keys.ts';

describe('lock keys', () => {
  it("uses locksmith's key for the default group and for named groups", () => {
    expect(semaphoreKey('')).toBe('coreos.com/updateengine/rebootlock/semaphore');
    expect(semaphoreKey('web')).toBe('coreos.com/updateengine/rebootlock/groups/web/semaphore');
  });

  it.each([
    ['plain', 'web-1_a.b~c', 'web-1_a.b~c'],
    ['space as plus', 'db west', 'db+west'],
    ['slash and percent', 'a/b%c', 'a%2Fb%25c'],
    ['reserved characters', "!*'();:@&=+$,?#[]", '%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D'],
    ['UTF-8 bytes', 'grüße', 'gr%C3%BC%C3%9Fe'],
  ])("escapes group names as Go's url.QueryEscape: %s", (_name, group, escaped) => {
    expect(goQueryEscape(group)).toBe(escaped);
  });

  it('keeps every extra key under the semaphore key, and reads ids back', () => {
    const keys = lockKeys('db west');
    for (const key of [keys.holderRecord('m 1'), keys.liveness('m1'), keys.waiter('m/1')]) expect(key.startsWith(`${keys.prefix}/`)).toBe(true);
    expect(idFromKey(keys.holderRecord('m 1'), keys.holderRecordPrefix)).toBe('m 1');
    expect(idFromKey(keys.waiter('m/1'), keys.waiterPrefix)).toBe('m/1');
    expect(idFromKey(keys.waiter('m/1'), keys.livenessPrefix)).toBeUndefined();
    // The default group's keys do not overlap a named group's.
    expect(lockKeys('g').prefix.startsWith(lockKeys('').prefix)).toBe(false);
  });

  it('builds the v2 path with the key escapes kept', () => {
    expect(v2SemaphorePath('')).toBe('/v2/keys/coreos.com/updateengine/rebootlock/semaphore');
    expect(v2SemaphorePath('a b/c')).toBe('/v2/keys/coreos.com/updateengine/rebootlock/groups/a%2Bb%252Fc/semaphore');
  });
});
