// The delta benchmark (issue 18): a v1 file tree copied from this machine's /usr and a v2 with 5% of
// its files changed, added or removed, built into real filesystem images (mkfs.ext4 -d, mksquashfs,
// mkfs.erofs). For each pair, side by side and interleaved: the engine's full apply (DELTA=false),
// its delta apply (DELTA=true, the booted slot USR-A holding v1 as seed) - both the real
// `update-engine daemon --once` writing v2 into USR-B of a GPT disk image, the payload made by
// `update-engine payload create` - and casync extracting v2 from a chunk store over HTTP with v1 as
// seed. One nginx per pair serves the payload, the casync store and (proxied) the Omaha server, and
// counts the bytes it sent in its access log. Every result is compared with v2 byte for byte.
// Prints a table, writes bench/out/delta.json and img/bench-delta.svg.
// Needs scripts/setup-bench.sh. Usage: node bin/run-ts.js bench/delta/run.ts [--tree-mib 256] [--runs 3]
//        [--kinds ext4,squashfs,erofs] [--seed 18] [--rate 0] [--dir DIR (kept)]
// --rate BYTES/s: nginx sends each response at most this fast (e.g. 12M, about 100 Mbit/s), standing for
// a real link; without it the fetch over loopback costs almost nothing and wall time shows CPU and disk.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { buildEngine, launcherNodeArgs } from '../apply/engine-build.ts';
import { startServe } from '../apply/serve-process.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import { IMAGE_KINDS, type ImageKind } from './images.ts';
import { preparePair, runCasync, runEngine, type MethodRun } from './pair.ts';
import { drawDeltaPlot } from './plot.ts';
import { deltaLines, pairRows, type DeltaBench, type PairResult } from './summary.ts';
import { buildBaseTree, deriveChangedTree, USR_SOURCES } from './tree.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);
const { values: args } = parseArgs({
  options: {
    'tree-mib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    kinds: { type: 'string', default: 'ext4,squashfs,erofs' },
    seed: { type: 'string', default: '18' },
    rate: { type: 'string', default: '0' },
    dir: { type: 'string' },
  },
});

const describe = (r: MethodRun) =>
  `${(r.fetchedBytes / MiB).toFixed(1)} MiB in ${r.requests} requests, ${r.seconds.toFixed(2)} s` +
  (r.engineBytesReused !== undefined ? ` (engine: ${(r.engineBytesReused / MiB).toFixed(1)} MiB reused)` : '') +
  (r.engineBlocksRefetched ? ` - ${r.engineBlocksRefetched} BLOCKS REFETCHED: the seed did not change, a fault` : '');

async function main(): Promise<void> {
  const kinds = args.kinds.split(',').map((k) => {
    if (!IMAGE_KINDS.includes(k as ImageKind)) throw new Error(`unknown image kind "${k}" (known: ${IMAGE_KINDS.join(', ')})`);
    return k as ImageKind;
  });
  const runs = Number(args.runs);
  const rate = parseSize(args.rate);
  const seed = Number(args.seed);
  const loadAtStart = loadavg();
  log('compiling src/ into bench/out/engine-build');
  const entry = buildEngine();
  const nodeArgs = launcherNodeArgs();
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-delta-')));
  await mkdir(dir, { recursive: true });
  const v1 = join(dir, 'tree-v1');
  const v2 = join(dir, 'tree-v2');
  await rm(v1, { recursive: true, force: true });
  const tree = await buildBaseTree(USR_SOURCES, v1, Number(args['tree-mib']) * MiB);
  const change = await deriveChangedTree(v1, v2, 0.05, seed);
  log(`tree v1: ${tree.files} files, ${(tree.bytes / MiB).toFixed(1)} MiB; v2: ${change.changed} changed, ${change.removed} removed, ${change.added} added`);
  const pairs: PairResult[] = [];
  try {
    for (const kind of kinds) {
      const work = join(dir, kind);
      const pair = await preparePair(kind, work, { v1, v2, bytes: tree.bytes }, entry);
      log(
        `${kind}: v1 ${(pair.v1Bytes / MiB).toFixed(1)} MiB, v2 ${(pair.v2Bytes / MiB).toFixed(1)} MiB, payload ${(pair.payloadBytes / MiB).toFixed(1)} MiB ` +
          `(format ${String(pair.manifest.formatVersion)}, chunks ${String(pair.manifest.chunkScheme ?? 'none')})`,
      );
      const result: PairResult = {
        kind,
        v1Bytes: pair.v1Bytes,
        v2Bytes: pair.v2Bytes,
        payloadBytes: pair.payloadBytes,
        manifest: pair.manifest,
        runs: { full: [], delta: [], casync: [] },
      };
      const serve = await startServe(entry, pair.payloadPath);
      await mkdir(join(work, 'www'), { recursive: true });
      const nginx = await startNginx(join(work, 'nginx'), join(work, 'www'), dirname(pair.payloadPath), new URL(serve.updateUrl).origin, {
        accessLog: true,
        aliases: { '/casync/': pair.casyncDir },
        rateBytesPerSecond: rate,
      }).catch(async (e: unknown) => {
        await serve.close();
        throw e;
      });
      try {
        for (let round = 1; round <= runs; round++) {
          // Interleaved, so that drifting load on the shared machine hits the three alike.
          const full = await runEngine(pair, nginx, entry, nodeArgs, await mkdtemp(join(work, 'run-')), false);
          const delta = await runEngine(pair, nginx, entry, nodeArgs, await mkdtemp(join(work, 'run-')), true);
          const casync = await runCasync(pair, nginx, join(work, 'casync-out.img'));
          result.runs.full.push(full);
          result.runs.delta.push(delta);
          result.runs.casync.push(casync);
          log(`  round ${round}/${runs}: full ${describe(full)}; delta ${describe(delta)}; casync ${describe(casync)}`);
        }
      } finally {
        await nginx.stop();
        await serve.close();
      }
      pairs.push(result);
    }
  } finally {
    if (!args.dir) await rm(dir, { recursive: true, force: true });
  }
  const bench: DeltaBench = {
    machine: { node: process.version, cpus: cpus().length, loadAverage: { start: loadAtStart, end: loadavg() } },
    rateBytesPerSecond: rate,
    tree,
    change,
    seed,
    pairs,
  };
  const rows = pairRows(bench);
  log('');
  for (const line of deltaLines(bench, rows)) log(line);
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/delta.json', `${JSON.stringify(bench, null, 1)}\n`);
  await writeFile('img/bench-delta.svg', drawDeltaPlot(bench, rows));
  log('wrote bench/out/delta.json and img/bench-delta.svg');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
