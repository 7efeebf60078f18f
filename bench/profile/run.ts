// Where the apply's CPU goes (issue 17): runs the compiled `update-engine daemon --once` against a
// payload served by nginx (the peers' static server) into a disk image file, interleaved with
// `curl | dd conv=fsync` into the same bytes; prints per run the wall time, the CPU seconds by thread
// (main, hash workers, libuv pool and V8 helpers), the peak RSS and the start-up; with --cpu-prof also
// the per-stage table from the V8 profiles of every thread (bench/profile/stages.ts).
// Usage: node bin/run-ts.js bench/profile/run.ts [--size 1G] [--runs 3] [--dir DIR (kept, reused)]
//        [--cpu-prof] [--no-baseline] [--node-args '--max-semi-space-size=1 ...'] [--env '{"K":"V"}']
//        [--compare BUILD (another compiled build, e.g. of an older commit, run interleaved)]
//        [--no-build (use bench/out/engine-build as it is)]
// A build of commit C for --compare: mkdir B && git archive C | tar -x -C B && ln -s $PWD/node_modules B/ &&
//        (cd B && node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir build && cp package.json build/) ; then --compare B/build

import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { runDaemon, type DaemonRun } from '../apply/daemon-run.ts';
import { buildEngine, launcherNodeArgs } from '../apply/engine-build.ts';
import { prepareImage, PUBLIC_KEY, restoreGpt } from '../apply/fixtures.ts';
import { median, runBaseline, type BaselineRun } from '../apply/runners.ts';
import { startServe } from '../apply/serve-process.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import { formatStageTable, stageSeconds } from './stages.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);
const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'node-args': { type: 'string' },
    env: { type: 'string' },
    compare: { type: 'string' },
  },
});

function describe(r: DaemonRun, gib: number): string {
  const c = r.applyCpu;
  return (
    `wall ${(r.totalMs / 1000).toFixed(2)} s (first log ${r.firstLogMs} ms, apply from ${r.applyStartMs} ms, ${r.apply.durationMs} ms), ` +
    `apply CPU-s/GiB ${(c.total / gib).toFixed(2)} = main ${(c.main / gib).toFixed(2)} + hash ${(c.hashWorkers / gib).toFixed(2)} + other ${(c.otherThreads / gib).toFixed(2)}, ` +
    `peak RSS ${(r.peakRssBytes / MiB).toFixed(0)} MiB`
  );
}

async function main(): Promise<void> {
  const sizeBytes = parseSize(args.size);
  const gib = sizeBytes / (1024 * MiB);
  const dir = resolve(args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-profile-'))));
  await mkdir(dir, { recursive: true });
  const entry = args['no-build'] ? resolve('bench/out/engine-build/src/cli/update-engine.js') : buildEngine();
  const img = await prepareImage(dir, sizeBytes, log);
  const serve = await startServe(entry, img.payloadPath);
  const nginx = await startNginx(join(dir, 'nginx'), dir, dir, new URL(serve.updateUrl).origin);
  const nodeArgs = args['node-args'] !== undefined ? args['node-args'].split(/\s+/).filter(Boolean) : launcherNodeArgs();
  const env = args.env ? (JSON.parse(args.env) as Record<string, string>) : {};
  const payloadUrl = `${nginx.origin}/payloads/0/${img.payloadPath.split('/').at(-1)}`;
  const builds = [{ name: 'engine', entry }, ...(args.compare ? [{ name: 'compare', entry: resolve(args.compare, 'src/cli/update-engine.js') }] : [])];
  const runs = new Map<string, DaemonRun[]>(builds.map((b) => [b.name, []]));
  const baselines: BaselineRun[] = [];
  try {
    for (let round = 0; round < Number(args.runs); round++) {
      for (const build of builds) {
        const profDir = join(dir, `prof-${build.name}-${round}`);
        await rm(profDir, { recursive: true, force: true });
        const profArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '500'] : [];
        const run = await runDaemon({
          entry: build.entry,
          nodeArgs: [...nodeArgs, ...profArgs],
          serverUrl: `${nginx.origin}/v1/update/`,
          disk: img.diskPath,
          publicKeyPath: PUBLIC_KEY,
          runDir: await mkdtemp(join(dir, 'run-')),
          ioWriteBytesPerSecond: 0,
          env,
        });
        await restoreGpt(img, img.diskPath);
        runs.get(build.name)?.push(run);
        log(`round ${round + 1} ${build.name.padEnd(8)} ${describe(run, gib)}`);
        if (args['cpu-prof']) {
          const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
          log(formatStageTable(await stageSeconds(files), gib));
        }
      }
      if (!args['no-baseline']) {
        const b = await runBaseline(payloadUrl, { path: img.diskPath, offsetBytes: img.slotOffsetBytes });
        await restoreGpt(img, img.diskPath);
        baselines.push(b);
        log(`round ${round + 1} curl|dd  wall ${b.seconds.toFixed(2)} s, CPU-s/GiB ${(b.cpuSeconds / gib).toFixed(2)}`);
      }
    }
  } finally {
    await nginx.stop();
    await serve.close();
  }
  log(`\nmedians of ${args.runs} interleaved rounds (machine shared; ${args.size}):`);
  const bw = median(baselines.map((b) => b.seconds));
  for (const [name, list] of runs) {
    const m = (f: (r: DaemonRun) => number) => median(list.map(f));
    const wall = m((r) => r.totalMs / 1000);
    log(
      `${name.padEnd(8)} wall ${wall.toFixed(2)} s, apply ${m((r) => Number(r.apply.durationMs)).toFixed(0)} ms, start-up to apply ${m((r) => r.applyStartMs).toFixed(0)} ms`,
    );
    log(
      `         apply CPU-s/GiB ${(m((r) => r.applyCpu.total) / gib).toFixed(2)} (main ${(m((r) => r.applyCpu.main) / gib).toFixed(2)}, hash ${(m((r) => r.applyCpu.hashWorkers) / gib).toFixed(2)}, other ${(m((r) => r.applyCpu.otherThreads) / gib).toFixed(2)}), peak RSS ${(m((r) => r.peakRssBytes) / MiB).toFixed(0)} MiB` +
        (baselines.length > 0 ? `; ${(bw / wall).toFixed(2)}x curl|dd` : ''),
    );
  }
  if (baselines.length > 0) log(`curl|dd  wall ${bw.toFixed(2)} s, CPU-s/GiB ${(median(baselines.map((b) => b.cpuSeconds)) / gib).toFixed(2)}`);
}

await main();
