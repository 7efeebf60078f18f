// The long fuzz run (issue 10): the same properties as test/fuzz, with many more inputs. Prints the
// inputs fuzzed and failures per parser and writes bench/out/fuzz.json (failures with seed, path and
// counterexample, to replay with FUZZ_SEED in the suite).
// Usage: node bin/run-ts.js bench/fuzz/run.ts [--scale 20] [--only PARSER[,PARSER]] [--seed N]

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzSeed, type FuzzSuite } from '../../test/fuzz/properties/fuzz-suite.ts';
import { FUZZ_SUITES } from '../../test/fuzz/properties/all-suites.ts';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '20' },
    only: { type: 'string' },
    seed: { type: 'string' },
  },
});

const scale = Number(args.scale);
if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--scale must be a positive number, got "${args.scale}"`);
const only = args.only?.split(',').map((s) => s.trim().toLowerCase());
const seed = args.seed !== undefined ? Number(args.seed) | 0 : fuzzSeed();
const log = (line: string) => process.stdout.write(`${line}\n`);

interface PropertyResult {
  parser: string;
  name: string;
  runs: number;
  skipped: number;
  failed: boolean;
  seed: number;
  durationMs: number;
  failure?: { path: string | undefined; error: string; counterexample: string };
}

const results: PropertyResult[] = [];
const outcomes: Record<string, Record<string, number>> = {};
log(`fuzz: seed ${seed}, scale ${scale}x the suite's runs`);
for (const [suiteName, make] of Object.entries(FUZZ_SUITES)) {
  const suite: FuzzSuite = make();
  const properties = suite.properties.filter((p) => !only || only.some((o) => p.parser.toLowerCase().includes(o) || suiteName.includes(o)));
  if (properties.length === 0) continue;
  await suite.setUp();
  try {
    for (const p of properties) {
      const numRuns = Math.max(1, Math.round(p.suiteRuns * scale));
      const started = performance.now();
      const details = await p.check({ numRuns, seed, endOnFailure: true });
      const durationMs = Math.round(performance.now() - started);
      const result: PropertyResult = {
        parser: p.parser,
        name: p.name,
        runs: details.numRuns,
        skipped: details.numSkips,
        failed: details.failed,
        seed,
        durationMs,
      };
      if (details.failed) {
        const counterexample = JSON.stringify(details.counterexample) ?? 'undefined';
        const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        result.failure = { path: details.counterexamplePath ?? undefined, error: error.slice(0, 4000), counterexample: counterexample.slice(0, 4000) };
      }
      results.push(result);
      log(
        `${details.failed ? 'FAIL' : 'ok  '} ${p.parser}: ${p.name}: ${details.numRuns} inputs in ${(durationMs / 1000).toFixed(1)} s${details.numSkips ? ` (${details.numSkips} skipped)` : ''}`,
      );
      if (result.failure)
        log(
          `     seed ${seed}, path ${result.failure.path ?? '?'}: ${result.failure.error.split('\n').join('\n     ')}\n     counterexample: ${result.failure.counterexample.slice(0, 600)}`,
        );
    }
    if (suite.outcomes && suite.outcomes.size > 0) {
      outcomes[suiteName] = Object.fromEntries([...suite.outcomes].sort((a, b) => b[1] - a[1]));
      log(
        `     outcomes: ${[...suite.outcomes]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k}: ${n}`)
          .join('; ')}`,
      );
    }
  } finally {
    await suite.tearDown();
  }
}

const byParser = new Map<string, { inputs: number; properties: number; failures: number; durationMs: number }>();
for (const r of results) {
  const row = byParser.get(r.parser) ?? { inputs: 0, properties: 0, failures: 0, durationMs: 0 };
  row.inputs += r.runs;
  row.properties += 1;
  row.failures += r.failed ? 1 : 0;
  row.durationMs += r.durationMs;
  byParser.set(r.parser, row);
}
log('\nparser                      properties  inputs fuzzed  failures  seconds');
for (const [parser, row] of byParser) {
  log(
    `${parser.padEnd(28)}${String(row.properties).padStart(10)}${String(row.inputs).padStart(15)}${String(row.failures).padStart(10)}${(row.durationMs / 1000).toFixed(1).padStart(9)}`,
  );
}

const outDir = join(import.meta.dirname, '..', 'out');
await mkdir(outDir, { recursive: true });
const out = join(outDir, 'fuzz.json');
await writeFile(
  out,
  `${JSON.stringify({ when: new Date().toISOString(), seed, scale, node: process.version, byParser: Object.fromEntries(byParser), outcomes, properties: results }, null, 2)}\n`,
);
log(`\nwrote ${out}`);
if (results.some((r) => r.failed)) process.exitCode = 1;
