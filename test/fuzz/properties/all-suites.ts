// Every fuzz suite by name, for bench/fuzz (the tests import their own suite).

import type { FuzzSuite } from './fuzz-suite.ts';
import { createConfigFuzz } from './config-properties.ts';
import { createOmahaFuzz } from './omaha-properties.ts';
import { createPayloadFuzz } from './payload-properties.ts';
import { createDaemonFuzz } from './daemon-properties.ts';
import { createGptFuzz } from './gpt-properties.ts';

export const FUZZ_SUITES: Record<string, () => FuzzSuite> = {
  config: createConfigFuzz,
  omaha: createOmahaFuzz,
  payload: createPayloadFuzz,
  daemon: createDaemonFuzz,
  gpt: createGptFuzz,
};
