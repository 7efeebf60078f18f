// Property tests of the Omaha response parser (bounded runs; bench/fuzz runs the same properties
// longer). A hang would show as this file's test timeout. FUZZ_SEED=<n> replays a failure.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createOmahaFuzz } from './properties/omaha-properties.ts';
import { assertFuzz } from './properties/fuzz-suite.ts';

const suite = createOmahaFuzz();
beforeAll(() => suite.setUp());
afterAll(() => suite.tearDown());

describe('fuzz: Omaha response parser', () => {
  for (const p of suite.properties) {
    it(p.name, async () => {
      await assertFuzz(p);
    });
  }
});
