// Property tests of update.conf parsing and loading (bounded runs; bench/fuzz runs the same
// properties longer). FUZZ_SEED=<n> replays a failure that fast-check reported.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createConfigFuzz } from './properties/config-properties.ts';
import { assertFuzz } from './properties/fuzz-suite.ts';

const suite = createConfigFuzz();
beforeAll(() => suite.setUp());
afterAll(() => suite.tearDown());

describe('fuzz: update.conf', () => {
  for (const p of suite.properties) {
    it(p.name, async () => {
      await assertFuzz(p);
    });
  }
});
