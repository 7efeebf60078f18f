import { describe, expect, it } from 'vitest';
import { lockKeys } from '../../src/lock/lock-keys.ts';
import { formatHolderRecord, parseHolderRecord, parseLockSnapshot } from '../../src/lock/lock-snapshot.ts';
import type { StoredValue } from '../../src/lock/lock-store.ts';

const keys = lockKeys('g');
const kv = (key: string, value: string, createRevision = '5', modRevision = createRevision, leased = false): StoredValue => ({
  key,
  value,
  createRevision,
  modRevision,
  leased,
});

describe('parseLockSnapshot', () => {
  it('reads a missing semaphore as the initial value, with no revision', () => {
    expect(parseLockSnapshot({ revision: '9', values: [] }, keys)).toEqual({
      semaphore: { semaphore: 1, max: 1, holders: [] },
      modRevision: null,
      revision: '9',
      holders: [],
      waiters: [],
      breaker: new Map(),
    });
  });

  it('joins holders with their records and liveness, and orders waiters by create revision', () => {
    const snap = parseLockSnapshot(
      {
        revision: '40',
        values: [
          kv(keys.semaphore, '{"semaphore":0,"max":3,"holders":["b","a","c"]}', '2', '30'),
          kv(keys.holderRecord('a'), formatHolderRecord({ lockedAtMs: Date.UTC(2024, 0, 1), liveness: true })),
          kv(keys.holderRecord('b'), formatHolderRecord({ lockedAtMs: Date.UTC(2024, 0, 2), liveness: false })),
          kv(keys.liveness('a'), '', '7', '7', true),
          kv(keys.waiter('late'), '', '12', '12', true),
          kv(keys.waiter('early'), '', '11', '11', true),
          kv(keys.waiter('big'), '', '100', '100', true),
        ],
      },
      keys,
    );
    expect(snap.modRevision).toBe('30');
    expect(snap.holders).toEqual([
      { id: 'a', record: { lockedAtMs: Date.UTC(2024, 0, 1), liveness: true }, alive: true },
      { id: 'b', record: { lockedAtMs: Date.UTC(2024, 0, 2), liveness: false }, alive: false },
      { id: 'c', record: undefined, alive: false },
    ]);
    // Numeric order of revisions, not string order ("100" after "12").
    expect(snap.waiters).toEqual(['early', 'late', 'big']);
  });

  it('names the key of an unreadable semaphore', () => {
    expect(() => parseLockSnapshot({ revision: '1', values: [kv(keys.semaphore, 'garbage')] }, keys)).toThrow(
      /key "coreos.com\/updateengine\/rebootlock\/groups\/g\/semaphore"/,
    );
  });

  it('treats an unreadable holder record as no record', () => {
    expect(parseHolderRecord('{"lockedAt":"yesterday"}')).toBeUndefined();
    expect(parseHolderRecord('nope')).toBeUndefined();
    expect(parseHolderRecord('{"lockedAt":"2024-01-01T00:00:00.000Z"}')).toEqual({ lockedAtMs: Date.UTC(2024, 0, 1), liveness: false });
  });
});
