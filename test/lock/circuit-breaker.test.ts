import { describe, expect, it } from 'vitest';
import { formatBreakerStatus } from '../../src/lock/breaker-format.ts';
import { describeHalt, failureOp, formatFailureRecord, formatHaltRecord, haltOf, parseBreaker, resumeOps } from '../../src/lock/circuit-breaker.ts';
import { lockKeys } from '../../src/lock/lock-keys.ts';
import type { StoredValue } from '../../src/lock/lock-store.ts';

const keys = lockKeys('web');
const kv = (key: string, value: string): StoredValue => ({ key, value, createRevision: '5', modRevision: '5', leased: false });
const at = Date.UTC(2026, 11, 6, 10, 0, 0);
const failure = (version: string, machineId: string, code: 'ERR_HEALTH_CHECK' | 'ERR_ROLLBACK' = 'ERR_HEALTH_CHECK', ms = at) =>
  kv(keys.failure(version, machineId), formatFailureRecord({ machineId, version, code, failedAtMs: ms }));
const read = (...values: StoredValue[]) => ({ revision: '9', values });

describe('the fleet circuit breaker (pure)', () => {
  it('keeps its records under the group semaphore key, versions and ids escaped', () => {
    expect(keys.failure('2.0.0+b1', 'm 1')).toBe('coreos.com/updateengine/rebootlock/groups/web/semaphore/failures/2.0.0%2Bb1/m+1');
    expect(keys.halt('2.0.0')).toBe('coreos.com/updateengine/rebootlock/groups/web/semaphore/halts/2.0.0');
    expect(lockKeys('').failurePrefix).toBe('coreos.com/updateengine/rebootlock/semaphore/failures/');
    const view = parseBreaker(read(failure('2.0.0+b1', 'm 1')), keys);
    expect(view.get('2.0.0+b1')?.failures).toEqual([{ machineId: 'm 1', version: '2.0.0+b1', code: 'ERR_HEALTH_CHECK', failedAtMs: at }]);
  });

  it('ignores the lock keys, and reads failures (oldest first) and halts by version', () => {
    const view = parseBreaker(
      read(
        kv(keys.semaphore, '{"semaphore":1,"max":1,"holders":null}'),
        kv(keys.holderRecord('a'), '{}'),
        failure('2.0.0', 'b', 'ERR_ROLLBACK', at + 1000),
        failure('2.0.0', 'a'),
        kv(keys.halt('1.9.0'), formatHaltRecord({ version: '1.9.0', haltedAtMs: at, by: 'ops' })),
      ),
      keys,
    );
    expect([...view.keys()].sort()).toEqual(['1.9.0', '2.0.0']);
    expect(view.get('2.0.0')?.failures.map((f) => f.machineId)).toEqual(['a', 'b']);
    expect(view.get('1.9.0')?.halt).toEqual({ version: '1.9.0', haltedAtMs: at, by: 'ops' });
  });

  it('counts a damaged record as a failure (a typo must not reopen the fleet)', () => {
    const view = parseBreaker(read(kv(keys.failure('2.0.0', 'a'), 'not json'), kv(keys.halt('3.0.0'), '')), keys);
    expect(view.get('2.0.0')?.failures).toEqual([{ machineId: 'a', version: '2.0.0', code: 'ERR_ROLLBACK', failedAtMs: 0 }]);
    expect(haltOf(view, '3.0.0', 5)?.halt?.by).toBe('unknown');
  });

  it('halts a version at the threshold or by hand, and never a newer one', () => {
    const view = parseBreaker(read(failure('2.0.0', 'a'), kv(keys.halt('2.5.0'), formatHaltRecord({ version: '2.5.0', haltedAtMs: at, by: 'ops' }))), keys);
    expect(haltOf(view, '2.0.0', 1)?.failures).toHaveLength(1);
    expect(haltOf(view, '2.0.0', 2)).toBeUndefined();
    expect(haltOf(view, '2.5.0', 3)?.halt?.by).toBe('ops');
    expect(haltOf(view, '2.0.1', 1)).toBeUndefined();
    const halt = haltOf(view, '2.0.0', 1);
    expect(halt && describeHalt(halt, 'web')).toBe(
      'Version 2.0.0 is halted in group "web": 1 machine(s) failed with it (FLEET_FAILURE_THRESHOLD=1): a ERR_HEALTH_CHECK; clear it with "locksmithctl resume 2.0.0"',
    );
  });

  it('writes one failure record per machine and version; resume deletes the halt and every record', () => {
    expect(failureOp(keys, { machineId: 'a', version: '2.0.0', code: 'ERR_ROLLBACK', failedAtMs: at })).toEqual({
      op: 'put',
      key: keys.failure('2.0.0', 'a'),
      value: '{"machineId":"a","version":"2.0.0","code":"ERR_ROLLBACK","failedAt":"2026-12-06T10:00:00.000Z"}',
    });
    const view = parseBreaker(read(failure('2.0.0', 'a'), failure('2.0.0', 'b'), kv(keys.halt('2.0.0'), '{}')), keys);
    expect(resumeOps(keys, view.get('2.0.0')!)).toEqual([
      { op: 'delete', key: keys.halt('2.0.0') },
      { op: 'delete', key: keys.failure('2.0.0', 'a') },
      { op: 'delete', key: keys.failure('2.0.0', 'b') },
    ]);
  });

  it("shows the breaker's table for locksmithctl status, nothing when it is empty", () => {
    expect(formatBreakerStatus(new Map(), 1)).toEqual([]);
    const view = parseBreaker(
      read(
        failure('2.0.0', 'a'),
        failure('1.5.0', 'c', 'ERR_ROLLBACK'),
        kv(keys.halt('3.0.0'), formatHaltRecord({ version: '3.0.0', haltedAtMs: at, by: 'ops' })),
      ),
      keys,
    );
    expect(formatBreakerStatus(view, 2)).toEqual([
      '',
      'FLEET CIRCUIT BREAKER (FLEET_FAILURE_THRESHOLD=2)',
      'VERSION  FAILURES  STATE',
      '1.5.0    1         watching',
      '  failed on c: ERR_ROLLBACK at 2026-12-06T10:00:00.000Z',
      '2.0.0    1         watching',
      '  failed on a: ERR_HEALTH_CHECK at 2026-12-06T10:00:00.000Z',
      '3.0.0    0         halted by ops at 2026-12-06T10:00:00.000Z',
    ]);
    expect(formatBreakerStatus(view, 1)[3]).toBe('1.5.0    1         halted');
  });
});
