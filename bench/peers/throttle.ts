// The throttled-run check of issue 17: the engine (`update-engine daemon --once`, compiled) applies a
// random image of --size (at least 128 MiB) with IO_WRITE_BPS=--limit, into an image file and, as
// root, through a loop device; once with the mechanism the daemon picks (cgroup first) and once with
// its token bucket (no cgroup mounts). Prints the achieved rate against the setting (target: within
// 3%) - over the apply, and where the writes are counted best (the loop device, else the engine's
// cgroup, else the bytes it dirtied) - and writes bench/out/peers-throttle.json.
// Usage: node bin/run-ts.js bench/peers/throttle.ts [--size 256M] [--limit 64M] [--targets file,loop] [--dir DIR (kept)]

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { runDaemon } from '../apply/daemon-run.ts';
import { buildEngine, launcherNodeArgs } from '../apply/engine-build.ts';
import { attachLoopDisk, prepareImage, PUBLIC_KEY, restoreGpt } from '../apply/fixtures.ts';
import { startServe } from '../apply/serve-process.ts';
import { summarizeThrottle, type ThrottleResult } from '../apply/summary.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);
const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256M' },
    limit: { type: 'string', default: '64M' },
    targets: { type: 'string', default: 'file,loop' },
    dir: { type: 'string' },
  },
});

async function main(): Promise<void> {
  const sizeBytes = parseSize(args.size);
  const limit = parseSize(args.limit);
  if (sizeBytes < 128 * MiB) throw new Error('--size must be at least 128M (the target is over 128 MiB or more)');
  const entry = buildEngine();
  const nodeArgs = launcherNodeArgs();
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-throttle-')));
  await mkdir(dir, { recursive: true });
  const img = await prepareImage(dir, sizeBytes, log);
  const server = await startServe(entry, img.payloadPath);
  const wantLoop = args.targets.split(',').includes('loop');
  if (wantLoop && process.getuid?.() !== 0) throw new Error('the loop target needs root; leave it out with --targets file');
  const loop = wantLoop ? await attachLoopDisk(img.diskPath) : undefined;
  const targets = [
    ...(args.targets.split(',').includes('file') ? [{ name: 'file-region' as const, disk: img.diskPath }] : []),
    ...(loop ? [{ name: 'loop-partition' as const, disk: loop.device, sampleDevice: loop.device }] : []),
  ];
  const results: ThrottleResult[] = [];
  try {
    for (const target of targets) {
      for (const requested of ['best', 'token-bucket'] as const) {
        await restoreGpt(img, target.disk);
        const loadAverage1m = loadavg()[0] as number;
        const run = await runDaemon({
          entry,
          nodeArgs,
          serverUrl: server.updateUrl,
          disk: target.disk,
          publicKeyPath: PUBLIC_KEY,
          runDir: await mkdtemp(join(dir, 'run-')),
          ioWriteBytesPerSecond: limit,
          withoutCgroups: requested === 'token-bucket',
          ...('sampleDevice' in target ? { sampleDevice: target.sampleDevice } : {}),
        });
        results.push({ target: target.name, requested, limitBytesPerSecond: limit, loadAverage1m, run });
        log(`${target.name}, ${requested}: done by ${run.mechanism} in ${(Number(run.apply.durationMs) / 1000).toFixed(2)} s`);
      }
    }
  } finally {
    await server.close();
    await loop?.detach();
    if (!args.dir) await rm(dir, { recursive: true, force: true });
  }
  log(`\nIO_WRITE_BPS=${args.limit} over ${args.size}: achieved rate against the setting (target: within 3%)`);
  log('apply = image bytes over the apply action (from its log line); span = from the first to the last write where counted;');
  log(`steady = between the samples at 10% and 90% of the bytes where counted (${((0.8 * sizeBytes) / MiB).toFixed(0)} MiB)`);
  log('target          mechanism       apply MiB/s   deviation   measured at   span MiB/s   deviation   steady MiB/s   deviation   worst 1 s MiB/s');
  const rows = results.map(summarizeThrottle);
  const limitMiBps = limit / MiB;
  const deviationOf = (rate: number | undefined) => (rate === undefined ? Number.NaN : (rate - limitMiBps) / limitMiBps);
  const signed = (d: number) => (Number.isFinite(d) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)}%` : '-');
  for (const r of rows) {
    log(
      `${r.target.padEnd(15)} ${r.mechanism.padEnd(15)} ${r.applyMiBps.toFixed(2).padStart(11)}   ${signed(r.deviation).padStart(9)}   ` +
        `${r.measuredAt.padEnd(11)}   ${(r.spanMiBps?.toFixed(2) ?? '-').padStart(10)}   ${signed(deviationOf(r.spanMiBps)).padStart(9)}   ` +
        `${(r.steadyMiBps?.toFixed(2) ?? '-').padStart(12)}   ${signed(deviationOf(r.steadyMiBps)).padStart(9)}   ${r.maxOneSecondMiBps.toFixed(2).padStart(15)}`,
    );
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  log(`target within 3% of IO_WRITE_BPS over the apply: ${verdict(rows.every((r) => Math.abs(r.deviation) <= 0.03))}`);
  log(
    `target within 3% of IO_WRITE_BPS where the writes are counted, first to last: ${verdict(rows.every((r) => Math.abs(deviationOf(r.spanMiBps)) <= 0.03))}`,
  );
  log(`target within 3% of IO_WRITE_BPS where the writes are counted, steady: ${verdict(rows.every((r) => Math.abs(deviationOf(r.steadyMiBps)) <= 0.03))}`);
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/peers-throttle.json', `${JSON.stringify({ size: args.size, limit: args.limit, rows, results }, null, 1)}\n`);
  log('wrote bench/out/peers-throttle.json');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
