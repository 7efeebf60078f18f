// Property test of the whole update cycle with mutated payloads served by the lab (a few runs;
// bench/fuzz runs more). Needs sgdisk. FUZZ_SEED=<n> replays a failure.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createDaemonFuzz } from './properties/daemon-properties.ts';
import { assertFuzz } from './properties/fuzz-suite.ts';
import { requireTool } from '../helpers/tools.ts';

const suite = createDaemonFuzz();
beforeAll(() => suite.setUp());
afterAll(() => suite.tearDown());

describe('fuzz: payload through the daemon cycle', () => {
  for (const p of suite.properties) {
    it(p.name, async () => {
      requireTool('sgdisk');
      await assertFuzz(p);
    }, 180_000);
  }
});
