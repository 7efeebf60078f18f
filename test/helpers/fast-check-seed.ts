// Vitest setup: every fast-check property in the suite runs from one seed per test file, the fixed
// CI seed under CI=true, FUZZ_SEED when given (to replay a failure), else a fresh one.
import fc from 'fast-check';
import { fuzzSeed } from '../fuzz/properties/fuzz-suite.ts';

fc.configureGlobal({ seed: fuzzSeed() });
