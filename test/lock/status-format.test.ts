import { describe, expect, it } from 'vitest';
import type { LockSnapshot } from '../../src/lock/lock-snapshot.ts';
import { formatHolderDetails, formatLocksmithStatus, formatSetMax } from '../../src/lock/status-format.ts';

const snap = (semaphore: number, max: number, holders: LockSnapshot['holders']): LockSnapshot => ({
  semaphore: { semaphore, max, holders: holders.map((h) => h.id) },
  modRevision: '5',
  revision: '9',
  holders,
  waiters: [],
  breaker: new Map(),
});
const now = Date.UTC(2024, 0, 1, 12);

describe('locksmithctl output', () => {
  it("prints locksmith's status lines exactly", () => {
    expect(formatLocksmithStatus(snap(1, 1, []))).toEqual(['Available: 1', 'Max: 1']);
    expect(
      formatLocksmithStatus(
        snap(-1, 1, [
          { id: 'a', record: undefined, alive: false },
          { id: 'b', record: undefined, alive: false },
        ]),
      ),
    ).toEqual(['Available: -1', 'Max: 1', '', 'MACHINE ID', 'a', 'b']);
  });

  it('adds a table of holder ages and liveness after a blank line', () => {
    const lines = formatHolderDetails(
      snap(0, 3, [
        { id: 'daemon-holder', record: { lockedAtMs: now - 3_723_400, liveness: true }, alive: true },
        { id: 'dead', record: { lockedAtMs: now - 90_000, liveness: true }, alive: false },
        { id: 'manual', record: { lockedAtMs: now, liveness: false }, alive: false },
        { id: 'old', record: undefined, alive: false },
      ]),
      now,
    );
    expect(lines).toEqual([
      '',
      'HOLDER         HELD FOR  LIVENESS',
      'daemon-holder  1h2m3s    alive',
      'dead           1m30s     gone',
      'manual         0s        manual (locksmithctl lock)',
      'old            unknown   unknown (no record: locksmith?)',
    ]);
    expect(formatHolderDetails(snap(1, 1, []), now)).toEqual([]);
  });

  it('prints set-max as locksmith does', () => {
    expect(formatSetMax(1, 4)).toEqual(['Old-Max: 1', 'Max: 4']);
  });
});
