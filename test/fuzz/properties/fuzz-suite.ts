// What the fuzz properties share: a named property that the test suite runs a few times and
// bench/fuzz runs many times (counting inputs per parser), the seed, and the error-shape checks.

import fc from 'fast-check';
import { UpdateEngineError, type ErrorCode } from '../../../src/errors.ts';

/** One property over one parser. `check` runs it and returns fast-check's report (never throws). */
export interface FuzzProperty {
  /** The parser or reader it feeds: the bench adds up inputs per parser. */
  parser: string;
  name: string;
  /** Runs in the test suite: bounded so that the whole file takes seconds. */
  suiteRuns: number;
  /** Runs `numRuns` random inputs after the regression examples (each example counts as one run). */
  check(params: FuzzRunParams): Promise<fc.RunDetails<unknown>>;
}

export interface FuzzRunParams {
  numRuns: number;
  seed: number;
  /** Skip shrinking (the bench wants the first failure fast; the suite wants the smallest). */
  endOnFailure?: boolean;
}

/** A group of properties with the fixtures they share (temp dirs, payloads, disk images). */
export interface FuzzSuite {
  properties: FuzzProperty[];
  /** How inputs ended (e.g. "flip N bit(s) -> ERR_PAYLOAD_HASH_MISMATCH"): shows which checks the fuzzer reached. */
  outcomes?: Map<string, number>;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

/** Wraps a fast-check property; `examples` are inputs that once failed, replayed first on every run. */
export function fuzzProperty<Ts>(parser: string, name: string, suiteRuns: number, property: fc.IRawProperty<Ts>, examples: Ts[] = []): FuzzProperty {
  return {
    parser,
    name,
    suiteRuns,
    async check(params) {
      const details = await fc.check(property, { numRuns: params.numRuns, seed: params.seed, examples, endOnFailure: params.endOnFailure ?? false });
      return details as fc.RunDetails<unknown>;
    },
  };
}

/** The seed of CI runs (CI=true), fixed so that a failure there replays exactly. */
export const CI_FUZZ_SEED = 20261206;

/** FUZZ_SEED from the environment (to replay a failure), else CI_FUZZ_SEED under CI=true, else a fresh one. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env.FUZZ_SEED;
  if (fromEnv !== undefined && /^-?\d+$/.test(fromEnv.trim())) return Number(fromEnv) | 0;
  if (env.CI === 'true' || env.CI === '1') return CI_FUZZ_SEED;
  return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

/** Runs a property with its suite budget and throws fast-check's report (seed, path, counterexample) when it fails. */
export async function assertFuzz(p: FuzzProperty, runs = p.suiteRuns): Promise<fc.RunDetails<unknown>> {
  const seed = fuzzSeed();
  process.stderr.write(`fuzz ${p.parser}: ${p.name}: seed ${seed} (replay with FUZZ_SEED=${seed})\n`);
  const details = await p.check({ numRuns: runs, seed });
  if (details.failed) throw new Error(`${p.parser}: ${p.name}\n${failureReport(details)}`);
  return details;
}

/** fast-check's report of a failed run followed by the error the property threw. */
export function failureReport(details: fc.RunDetails<unknown>): string {
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance ?? '');
  return `${fc.defaultReportMessage(details) ?? 'failed'}\nError: ${cause}`;
}

export function countOutcome(outcomes: Map<string, number>, label: string): void {
  outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
}

/** Throws (failing the property) unless `condition` holds. */
export function ensure(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(typeof message === 'string' ? message : message());
}

/** The error must be an UpdateEngineError whose code is in `codes` or starts with one of `prefixes`. */
export function ensureEngineError(e: unknown, allowed: { codes?: readonly ErrorCode[]; prefixes?: readonly string[] }, doing: string): UpdateEngineError {
  if (!(e instanceof UpdateEngineError)) {
    const what = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    throw new Error(`${doing} threw something other than an UpdateEngineError: ${what}`);
  }
  const ok = (allowed.codes ?? []).includes(e.code) || (allowed.prefixes ?? []).some((p) => e.code.startsWith(p));
  ensure(
    ok,
    () => `${doing} failed with ${e.code}, expected ${[...(allowed.codes ?? []), ...(allowed.prefixes ?? []).map((p) => `${p}*`)].join(' or ')}: ${e.message}`,
  );
  return e;
}

/** Runs `body` and collects unhandled rejections and uncaught exceptions raised meanwhile (and for one more turn). */
export async function withoutStrayErrors<T>(body: () => Promise<T>): Promise<T> {
  const stray: unknown[] = [];
  const onStray = (e: unknown) => stray.push(e);
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  try {
    const result = await body();
    await new Promise((resolve) => setImmediate(resolve));
    return result;
  } finally {
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
    ensure(stray.length === 0, () => `unhandled errors: ${stray.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))).join('; ')}`);
  }
}
