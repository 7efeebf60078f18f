// The kill-point plan of the crash lab: reproducible from its seed, covering every status and every
// GPT write of the calibrated cycle, with time offsets and byte counts inside the cycle.

import { describe, expect, it } from 'vitest';
import { describeKillPoint, planKillPoints, seededRandom, type CycleProfile } from '../helpers/kill-points.ts';

const profile: CycleProfile = { statuses: ['CHECKING', 'DOWNLOADING', 'CHECKING'], gptWrites: 4, bytesWritten: 1000 };

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, another for another seed, all in [0, 1)', () => {
    const draw = (seed: number) => Array.from({ length: 50 }, seededRandom(seed));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    for (const x of draw(7)) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('planKillPoints', () => {
  it('aims at every GPT write and every distinct status once, then alternates time and bytes', () => {
    const plan = planKillPoints({ seed: 1, count: 12, profile });
    expect(plan.slice(0, 6).map(describeKillPoint)).toEqual([
      'gpt-write #1',
      'gpt-write #2',
      'gpt-write #3',
      'gpt-write #4',
      'status CHECKING',
      'status DOWNLOADING',
    ]);
    expect(plan.slice(6).map((p) => p.kind)).toEqual(['time', 'bytes', 'time', 'bytes', 'time', 'bytes']);
    expect(plan).toHaveLength(12);
  });

  it('is reproducible from the seed and keeps offsets inside the cycle', () => {
    const a = planKillPoints({ seed: 42, count: 200, profile, maxTimeFraction: 0.9 });
    expect(planKillPoints({ seed: 42, count: 200, profile, maxTimeFraction: 0.9 })).toEqual(a);
    expect(planKillPoints({ seed: 43, count: 200, profile, maxTimeFraction: 0.9 })).not.toEqual(a);
    for (const p of a) {
      if (p.kind === 'time') expect(p.fraction >= 0 && p.fraction <= 0.9).toBe(true);
      if (p.kind === 'bytes') expect(p.afterBytes >= 1 && p.afterBytes < profile.bytesWritten).toBe(true);
    }
  });

  it('uses only time offsets when the cycle writes no image (the post-boot cycle)', () => {
    const plan = planKillPoints({ seed: 3, count: 10, profile: { statuses: ['IDLE'], gptWrites: 0, bytesWritten: 0 } });
    expect(plan.map((p) => p.kind)).toEqual(['status', ...Array<string>(9).fill('time')]);
  });
});
