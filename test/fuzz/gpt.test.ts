// Property test of the GPT reader and slot operations on corrupted images (bounded runs;
// bench/fuzz runs more). Needs sgdisk. FUZZ_SEED=<n> replays a failure.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createGptFuzz } from './properties/gpt-properties.ts';
import { assertFuzz } from './properties/fuzz-suite.ts';
import { requireTool } from '../helpers/tools.ts';

const suite = createGptFuzz();
beforeAll(async () => {
  requireTool('sgdisk');
  await suite.setUp();
});
afterAll(() => suite.tearDown());

describe('fuzz: GPT reader and slot operations', () => {
  for (const p of suite.properties) {
    it(p.name, async () => {
      await assertFuzz(p);
    }, 120_000);
  }
});
