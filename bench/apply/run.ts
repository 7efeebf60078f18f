// The apply benchmark (issue 5): serves a payload of a random image over HTTP (Range) on 127.0.0.1
// and applies it with the engine to a file region and, as root, a loop-device partition, against
// `curl | dd conv=fsync` into the same target; then IO_WRITE_BPS runs (cgroup and token bucket).
// Prints the figures, writes bench/out/apply.json and draws img/bench-apply.svg.
// Usage: node bin/run-ts.js bench/apply/run.ts [--sizes 1G,4G] [--runs 5] [--large-runs 2]
//        [--throttle 40M] [--targets file,loop] [--dir DIR (kept)] [--no-throttle]
//        (--runs 0: only the throttled runs)

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { attachLoopSlot, prepareImage, PUBLIC_KEY, SLOT_OFFSET_BYTES, type BenchImage, type LoopSlot } from './fixtures.ts';
import { startRangeServer } from './range-server.ts';
import { runBaseline, runEngine, type BaselineTarget, type EngineRun } from './runners.ts';
import type { EngineJob } from './engine-child.ts';
import { summarize, type BenchResults, type SizeTargetResult, type ThrottleResult } from './summary.ts';
import { drawApplyPlot } from './plot.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1G,4G' },
    runs: { type: 'string', default: '5' },
    'large-runs': { type: 'string', default: '2' },
    throttle: { type: 'string', default: '40M' },
    'no-throttle': { type: 'boolean', default: false },
    targets: { type: 'string', default: 'file,loop' },
    dir: { type: 'string' },
  },
});

const isRoot = process.getuid?.() === 0;
const sizes = (args.sizes as string).split(',').map((s) => parseSize(s.trim()));
const wantedTargets = (args.targets as string).split(',');
const throttleBps = parseSize(args.throttle as string);

interface TargetSpec {
  name: 'file-region' | 'loop-partition';
  engine: EngineJob['target'];
  baseline: BaselineTarget;
}

function targetsFor(img: BenchImage, loop: LoopSlot | undefined): TargetSpec[] {
  const out: TargetSpec[] = [];
  if (wantedTargets.includes('file')) {
    out.push({
      name: 'file-region',
      engine: { kind: 'file', path: img.diskPath, offsetBytes: SLOT_OFFSET_BYTES, lengthBytes: img.slotLengthBytes },
      baseline: { kind: 'file', path: img.diskPath, offsetBytes: SLOT_OFFSET_BYTES },
    });
  }
  if (loop) out.push({ name: 'loop-partition', engine: { kind: 'device', path: loop.partitionNode }, baseline: { kind: 'device', path: loop.partitionNode } });
  return out;
}

function job(img: BenchImage, url: string, target: TargetSpec, mode: EngineJob['mode'], extra: Partial<EngineJob> = {}): EngineJob {
  return { mode, url, payloadSizeBytes: img.payloadSizeBytes, publicKeyPath: PUBLIC_KEY, target: target.engine, ioWriteBytesPerSecond: 0, readBack: true, rssSampleMs: 100, ...extra };
}

const mibps = (bytes: number, ms: number) => (bytes * 1000) / ms / MiB;

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-apply-')));
  await mkdir(dir, { recursive: true });
  const results: SizeTargetResult[] = [];
  const throttled: ThrottleResult[] = [];
  try {
    for (const [sizeIndex, sizeBytes] of sizes.entries()) {
      const img = await prepareImage(dir, sizeBytes, log);
      const server = await startRangeServer(img.payloadPath);
      const loop = isRoot && wantedTargets.includes('loop') ? await attachLoopSlot(img.diskPath) : undefined;
      try {
        const runs = Number(sizeIndex === 0 ? args.runs : args['large-runs']);
        for (const target of runs > 0 ? targetsFor(img, loop) : []) {
          const r: SizeTargetResult = { sizeBytes, payloadSizeBytes: img.payloadSizeBytes, target: target.name, engine: [], stream: [], baselineSeconds: [] };
          for (let i = 0; i < runs; i++) {
            // Interleaved, so that drifting disk conditions hit all three alike.
            const e = await runEngine(job(img, server.url, target, 'apply'));
            const s = await runEngine(job(img, server.url, target, 'stream'));
            const b = await runBaseline(server.url, target.baseline);
            r.engine.push(e);
            r.stream.push(s);
            r.baselineSeconds.push(b.seconds);
            log(
              `${sizeBytes / MiB} MiB ${target.name} run ${i + 1}/${runs}: engine ${mibps(e.imageBytes, e.applyMs).toFixed(0)} MiB/s ` +
                `(start-up ${e.spawnToReadyMs.toFixed(0)} ms, peak RSS ${(e.peakRssBytes / MiB).toFixed(0)} MiB), ` +
                `stream ${mibps(s.imageBytes, s.applyMs).toFixed(0)} MiB/s, baseline ${(img.payloadSizeBytes / b.seconds / MiB).toFixed(0)} MiB/s`,
            );
          }
          results.push(r);
        }
        if (sizeIndex === 0 && !args['no-throttle']) {
          for (const target of targetsFor(img, loop)) {
            for (const mechanisms of [undefined, ['token-bucket' as const]]) {
              const e: EngineRun = await runEngine(job(img, server.url, target, 'apply', { ioWriteBytesPerSecond: throttleBps, ...(mechanisms ? { mechanisms } : {}) }));
              throttled.push({ target: target.name, limitBytesPerSecond: throttleBps, run: e });
              log(`IO_WRITE_BPS=${throttleBps / MiB}M ${target.name} by ${e.mechanism}: writes ${(e.writeBytesPerSecond / MiB).toFixed(2)} MiB/s`);
            }
          }
        }
      } finally {
        await server.close();
        await loop?.detach();
      }
    }
  } finally {
    if (!args.dir) await rm(dir, { recursive: true, force: true });
  }
  // Other work on the machine skews the figures: the load averages say how busy it was.
  const bench: BenchResults = { machine: { node: process.version, root: isRoot, loadAverage: { start: loadAtStart, end: loadavg() } }, results, throttled };
  const summary = summarize(bench);
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/apply.json', `${JSON.stringify({ summary, ...bench }, null, 1)}\n`);
  await writeFile('img/bench-apply.svg', drawApplyPlot(summary, bench));
  log('');
  for (const line of summary.lines) log(line);
  log('wrote bench/out/apply.json and img/bench-apply.svg');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
