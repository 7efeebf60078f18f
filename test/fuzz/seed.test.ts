import { describe, expect, it } from 'vitest';
import { CI_FUZZ_SEED, fuzzSeed } from './properties/fuzz-suite.ts';

describe('fuzzSeed', () => {
  it('is FUZZ_SEED when given, else the fixed CI seed under CI=true, else a fresh one', () => {
    expect(fuzzSeed({ FUZZ_SEED: '-17', CI: 'true' })).toBe(-17);
    expect(fuzzSeed({ CI: 'true' })).toBe(CI_FUZZ_SEED);
    expect(fuzzSeed({ FUZZ_SEED: 'x', CI: 'true' })).toBe(CI_FUZZ_SEED);
    const fresh = new Set(Array.from({ length: 5 }, () => fuzzSeed({})));
    expect(fresh.size).toBeGreaterThan(1);
  });
});
