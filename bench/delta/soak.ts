// Runs the engine's apply again and again on a pair the delta benchmark kept (`bench/delta/run.ts
// --dir DIR`): a fault that shows once in many runs (a race) needs many runs to show, and one pair
// built once to run them on. Each run is the real `update-engine daemon --once` of bench/delta/pair.ts,
// checked byte for byte; prints one line per run and the count of failed runs and refetched blocks.
// Usage: node bin/run-ts.js bench/delta/soak.ts --dir DIR [--kind ext4] [--runs 10] [--mode delta|full|both]
//        [--entry BUILD/src/cli/update-engine.js (a build of another commit; default: build this tree)]
// Exits 1 when a run failed or a delta fetched a block again.

import { mkdtemp, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { execArgv } from '../../src/platform/exec.ts';
import { buildEngine, launcherNodeArgs } from '../apply/engine-build.ts';
import { readGpt } from '../apply/fixtures.ts';
import { startServe } from '../apply/serve-process.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import { runEngine, type Pair } from './pair.ts';
import type { ImageKind } from './images.ts';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    kind: { type: 'string', default: 'ext4' },
    runs: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    entry: { type: 'string' },
  },
});

/** Slot B (partition 4) of the pair's disk, from its partition table. */
async function slotB(diskPath: string): Promise<{ offset: number; length: number }> {
  const r = await execArgv(['partx', '--show', '--noheadings', '-o', 'NR,START,SECTORS', diskPath]);
  const row = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .find(([nr]) => nr === 4);
  if (r.exitCode !== 0 || !row) throw new Error(`no partition 4 in ${diskPath}: ${r.stderr.trim()}`);
  return { offset: (row[1] ?? 0) * 512, length: (row[2] ?? 0) * 512 };
}

async function main(): Promise<void> {
  if (!args.dir) throw new Error('--dir DIR: a directory bench/delta/run.ts --dir DIR kept');
  const modes = args.mode === 'both' ? [false, true] : args.mode === 'delta' ? [true] : args.mode === 'full' ? [false] : undefined;
  if (!modes) throw new Error(`--mode must be delta, full or both (not "${args.mode}")`);
  const work = join(args.dir, args.kind);
  const size = async (p: string) =>
    (
      await stat(p).catch(() => {
        throw new Error(`${p} is missing: --dir must be a directory bench/delta/run.ts --dir kept, with a ${args.kind} pair (--kind)`);
      })
    ).size;
  const diskPath = join(work, 'disk.img');
  const pair: Pair = {
    kind: args.kind as ImageKind,
    v1Path: join(work, 'v1.img'),
    v2Path: join(work, 'v2.img'),
    v1Bytes: await size(join(work, 'v1.img')),
    v2Bytes: await size(join(work, 'v2.img')),
    payloadPath: join(work, 'payloads', 'v2.payload'),
    payloadBytes: await size(join(work, 'payloads', 'v2.payload')),
    manifest: {},
    diskPath,
    slotB: await slotB(diskPath),
    gpt: await readGpt(diskPath, await size(diskPath)),
    casyncDir: join(work, 'casync'),
  };
  const entry = args.entry ?? buildEngine();
  const serve = await startServe(entry, pair.payloadPath);
  const nginx = await startNginx(join(work, 'nginx-soak'), join(work, 'www'), dirname(pair.payloadPath), new URL(serve.updateUrl).origin, {
    accessLog: true,
  }).catch(async (e: unknown) => {
    await serve.close();
    throw e;
  });
  let failed = 0;
  let refetched = 0;
  try {
    for (let i = 1; i <= Number(args.runs); i++) {
      for (const delta of modes) {
        const what = `run ${i} ${delta ? 'delta' : 'full'}`;
        try {
          const r = await runEngine(pair, nginx, entry, launcherNodeArgs(), await mkdtemp(join(work, 'run-')), delta);
          refetched += r.engineBlocksRefetched ?? 0;
          console.log(`${what}: ok, ${r.seconds.toFixed(2)} s${r.engineBlocksRefetched ? `, ${r.engineBlocksRefetched} blocks fetched again` : ''}`);
        } catch (e) {
          failed++;
          const message = (e as Error).message;
          console.log(`${what}: FAILED ${message.split('\n').find((l) => l.startsWith('update-engine:')) ?? message.slice(0, 300)}`);
        }
      }
    }
  } finally {
    await nginx.stop();
    await serve.close();
  }
  console.log(`${failed} runs failed, ${refetched} blocks fetched again`);
  if (failed > 0 || refetched > 0) process.exitCode = 1;
}

await main().catch((e: unknown) => {
  console.error(`soak: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
});
