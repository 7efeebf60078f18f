// cgpt prioritize semantics, table-driven (the interop test checks them against cgpt itself).
import { describe, expect, it } from 'vitest';
import { prioritizePartitions } from '../../src/slots/slot-priority.ts';

const run = (priorities: Record<number, number>, target: number, max?: number): Record<number, number> =>
  Object.fromEntries(prioritizePartitions(new Map(Object.entries(priorities).map(([k, v]) => [Number(k), v])), target, max));

describe('prioritize (cgpt semantics)', () => {
  it.each([
    ['fresh disk, B becomes the new top', { 3: 1, 4: 0 }, 4, { 3: 1, 4: 2 }],
    ['after the flip, A again', { 3: 1, 4: 2 }, 3, { 3: 2, 4: 1 }],
    ['already on top: unchanged', { 3: 2, 4: 1 }, 3, { 3: 2, 4: 1 }],
    ['only A in use, A again: stays 1', { 3: 1, 4: 0 }, 3, { 3: 1, 4: 0 }],
    ['both disabled, B gets 1', { 3: 0, 4: 0 }, 4, { 3: 0, 4: 1 }],
    ['a tie is broken, the other keeps its rank', { 3: 2, 4: 2 }, 4, { 3: 1, 4: 2 }],
    ['gaps close up', { 3: 9, 4: 5, 5: 2 }, 5, { 3: 2, 4: 1, 5: 3 }],
    ['an emptied group disappears', { 3: 3, 4: 2, 5: 1 }, 4, { 3: 2, 4: 3, 5: 1 }],
    ['priority 0 is never raised', { 3: 1, 4: 0, 5: 0 }, 3, { 3: 1, 4: 0, 5: 0 }],
  ])('%s', (_name, before, target, after) => {
    expect(run(before, target)).toEqual(after);
  });

  it('coalesces the lowest groups into 1 when there are more than 15', () => {
    const before: Record<number, number> = {};
    for (let p = 1; p <= 15; p++) before[p] = p; // 15 groups, then the target makes 16
    before[16] = 0;
    const after = run(before, 16);
    expect(after[16]).toBe(15);
    expect(after[15]).toBe(14);
    expect(after[2]).toBe(1);
    expect(after[1]).toBe(1);
  });

  it('starts from a given maximum', () => {
    expect(run({ 3: 1, 4: 0 }, 4, 10)).toEqual({ 3: 9, 4: 10 });
  });

  it('refuses a target that is not among the partitions', () => {
    expect(() => run({ 3: 1 }, 4)).toThrow(/Partition 4 is not among/);
  });
});
