import { describe, expect, it } from 'vitest';
import { backoffDelays, type Jitter } from '../../src/platform/backoff.ts';

const take = (next: () => number, n: number) => Array.from({ length: n }, () => next());

describe('backoffDelays', () => {
  it('starts at the initial delay and doubles up to the ceiling', () => {
    expect(take(backoffDelays({ initialMs: 100, maxMs: 700, jitter: 'none' }), 5)).toEqual([100, 200, 400, 700, 700]);
  });

  it.each([
    ['full', 0.5, [50, 100, 200]],
    ['half', 0.5, [75, 150, 300]],
    ['quarter', 0.5, [100, 200, 400]],
    ['quarter', 0, [75, 150, 300]],
    ['full', 0, [0, 0, 0]],
  ] as const)('%s jitter with random() = %d', (jitter: Jitter, r: number, expected: readonly number[]) => {
    expect(take(backoffDelays({ initialMs: 100, maxMs: 10_000, jitter, random: () => r }), 3)).toEqual(expected);
  });

  it('keeps each sequence apart', () => {
    const a = backoffDelays({ initialMs: 10, maxMs: 1000, jitter: 'none' });
    const b = backoffDelays({ initialMs: 10, maxMs: 1000, jitter: 'none' });
    expect([a(), a(), b(), a()]).toEqual([10, 20, 10, 40]);
  });
});
