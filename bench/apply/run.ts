// The apply benchmark (issue 5): serves a payload of a random image with `update-engine serve` on
// 127.0.0.1 and runs the real `update-engine daemon --once` (compiled) against a disk image file
// and, as root, the same disk on a loop device; each round also times `curl -s URL | dd of=TARGET
// bs=1M conv=fsync` into the same bytes. Then IO_WRITE_BPS runs (cgroup, and token bucket).
// Prints the figures, writes bench/out/apply.json and draws img/bench-apply.svg.
// Usage: node bin/run-ts.js bench/apply/run.ts [--sizes 1G,4G] [--runs 5] [--large-runs 3]
//        [--throttle 40M] [--no-throttle] [--targets file,loop] [--dir DIR (kept)]
//        BENCH_DAEMON_ENV='{"KEY":"VALUE"}' adds environment variables to the daemon (e.g. UPDATE_ENGINE_*).

import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { runDaemon, type DaemonJob } from './daemon-run.ts';
import { buildEngine, launcherNodeArgs } from './engine-build.ts';
import { attachLoopDisk, prepareImage, PUBLIC_KEY, restoreGpt, type BenchImage, type LoopDisk } from './fixtures.ts';
import { drawApplyPlot } from './plot.ts';
import { cpuSeconds } from './proc-stats.ts';
import { startServe } from './serve-process.ts';
import { runBaseline, type BaselineTarget } from './runners.ts';
import { engineMiBps, summarize, type BenchResults, type RunRound, type SizeTargetResult, type ThrottleResult } from './summary.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1G,4G' },
    runs: { type: 'string', default: '5' },
    'large-runs': { type: 'string', default: '3' },
    throttle: { type: 'string', default: '40M' },
    'no-throttle': { type: 'boolean', default: false },
    targets: { type: 'string', default: 'file,loop' },
    dir: { type: 'string' },
  },
});

const isRoot = process.getuid?.() === 0;
const sizes = args.sizes.split(',').map((s) => parseSize(s.trim()));
const wantedTargets = args.targets.split(',');
const throttleBps = parseSize(args.throttle);

interface TargetSpec {
  name: SizeTargetResult['target'];
  /** DISK for the daemon. */
  disk: string;
  baseline: BaselineTarget;
  sampleDevice?: string;
}

function targetsFor(img: BenchImage, loop: LoopDisk | undefined): TargetSpec[] {
  const out: TargetSpec[] = [];
  if (wantedTargets.includes('file')) out.push({ name: 'file-region', disk: img.diskPath, baseline: { path: img.diskPath, offsetBytes: img.slotOffsetBytes } });
  if (loop)
    out.push({ name: 'loop-partition', disk: loop.device, baseline: { path: loop.device, offsetBytes: img.slotOffsetBytes }, sampleDevice: loop.device });
  return out;
}

async function main(): Promise<void> {
  log('compiling src/ into bench/out/engine-build');
  const entry = buildEngine();
  // The daemon starts as the installed command does: with the node options of its launcher.
  const nodeArgs = launcherNodeArgs();
  log(`daemon node options: ${nodeArgs.join(' ') || '(none)'}`);
  const loadAtStart = loadavg();
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-apply-')));
  await mkdir(dir, { recursive: true });
  const results: SizeTargetResult[] = [];
  const throttled: ThrottleResult[] = [];
  const daemon = (target: TargetSpec, url: string, extra: Partial<DaemonJob> = {}) =>
    mkdtemp(join(dir, 'run-')).then((runDir) =>
      runDaemon({
        entry,
        nodeArgs,
        serverUrl: url,
        disk: target.disk,
        publicKeyPath: PUBLIC_KEY,
        runDir,
        ioWriteBytesPerSecond: 0,
        ...(target.sampleDevice ? { sampleDevice: target.sampleDevice } : {}),
        ...(process.env.BENCH_DAEMON_ENV ? { env: JSON.parse(process.env.BENCH_DAEMON_ENV) as Record<string, string> } : {}),
        ...extra,
      }),
    );
  try {
    for (const [sizeIndex, sizeBytes] of sizes.entries()) {
      const img = await prepareImage(dir, sizeBytes, log);
      const server = await startServe(entry, img.payloadPath);
      const { payloadUrl } = server;
      const serverCpu = async () => (await cpuSeconds(server.pid)) ?? Number.NaN;
      const loop = isRoot && wantedTargets.includes('loop') ? await attachLoopDisk(img.diskPath) : undefined;
      try {
        const runs = Number(sizeIndex === 0 ? args.runs : args['large-runs']);
        for (const target of runs > 0 ? targetsFor(img, loop) : []) {
          await runBaseline(payloadUrl, target.baseline); // a first write allocates the sparse image's blocks
          const r: SizeTargetResult = { sizeBytes, payloadSizeBytes: img.payloadSizeBytes, target: target.name, rounds: [] };
          for (let i = 0; i < runs; i++) {
            // Interleaved, so that drifting conditions (other work, the disk) hit both alike.
            await restoreGpt(img, target.disk);
            const loadAverage1m = loadavg()[0] as number;
            const beforeEngine = await serverCpu();
            const engine = await daemon(target, server.updateUrl);
            const beforeBaseline = await serverCpu();
            const baseline = await runBaseline(payloadUrl, target.baseline);
            const serverCpuSeconds = { engine: beforeBaseline - beforeEngine, baseline: (await serverCpu()) - beforeBaseline };
            const round: RunRound = { loadAverage1m, engine, baseline, serverCpuSeconds };
            r.rounds.push(round);
            log(
              `${sizeBytes / MiB} MiB ${target.name} round ${i + 1}/${runs} (load ${loadAverage1m.toFixed(1)}): engine ${engineMiBps(engine).toFixed(0)} MiB/s ` +
                `(${engine.apply.durationMs} ms, CPU ${engine.applyCpu.total.toFixed(2)} s, peak RSS ${(engine.peakRssBytes / 1e6).toFixed(0)} MB, apply started at ${engine.applyStartMs} ms), ` +
                `curl|dd ${(img.payloadSizeBytes / MiB / baseline.seconds).toFixed(0)} MiB/s (CPU ${baseline.cpuSeconds.toFixed(2)} s)`,
            );
          }
          results.push(r);
        }
        if (sizeIndex === 0 && !args['no-throttle']) {
          for (const target of targetsFor(img, loop)) {
            for (const requested of ['best', 'token-bucket'] as const) {
              await restoreGpt(img, target.disk);
              const loadAverage1m = loadavg()[0] as number;
              const run = await daemon(target, server.updateUrl, { ioWriteBytesPerSecond: throttleBps, withoutCgroups: requested === 'token-bucket' });
              throttled.push({ target: target.name, requested, limitBytesPerSecond: throttleBps, loadAverage1m, run });
              log(`IO_WRITE_BPS=${throttleBps / MiB}M ${target.name} by ${run.mechanism}: ${engineMiBps(run).toFixed(2)} MiB/s`);
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
  const bench: BenchResults = {
    machine: { node: process.version, cpus: cpus().length, root: isRoot, loadAverage: { start: loadAtStart, end: loadavg() } },
    results,
    throttled,
  };
  const summary = summarize(bench);
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/apply.json', `${JSON.stringify({ summary, ...bench }, null, 1)}\n`);
  await writeFile('img/bench-apply.svg', drawApplyPlot(summary, bench));
  log('');
  for (const line of summary.lines) log(line);
  log('wrote bench/out/apply.json and img/bench-apply.svg');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
