// Property tests of the payload reader: mutated payloads through applyPayload onto a file region
// (bounded runs; bench/fuzz runs the same property longer). FUZZ_SEED=<n> replays a failure.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createPayloadFuzz } from './properties/payload-properties.ts';
import { assertFuzz } from './properties/fuzz-suite.ts';

const suite = createPayloadFuzz();
beforeAll(() => suite.setUp());
afterAll(() => suite.tearDown());

describe('fuzz: payload reader', () => {
  for (const p of suite.properties) {
    it(p.name, async () => {
      await assertFuzz(p);
    }, 120_000);
  }
});
