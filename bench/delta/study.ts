// The delta piece-scheme study (issue 18): builds a v1 tree from part of this machine's /usr and a v2
// that differs in 5% of its files, makes both into ext4, squashfs and erofs images with the real
// tools, and prints, per image kind and scheme, the share of the new image that must be fetched when
// the machine holds the old one, beside casync's bytes over HTTP with the old image as seed.
// Writes bench/out/delta-study.json. Byte counts are deterministic for a seed: the machine's load
// does not change them.
// Needs scripts/setup-bench.sh. Usage: node bin/run-ts.js bench/delta/study.ts [--tree-mib 256] [--seed 18] [--dir DIR] [--no-casync]

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { casyncDelta, type CasyncResult } from './casync.ts';
import { IMAGE_KINDS, makeImage } from './images.ts';
import { measureSchemes, type SchemeResult } from './schemes.ts';
import { buildBaseTree, deriveChangedTree, USR_SOURCES } from './tree.ts';

const { values: args } = parseArgs({
  options: {
    'tree-mib': { type: 'string', default: '256' },
    seed: { type: 'string', default: '18' },
    dir: { type: 'string' },
    'no-casync': { type: 'boolean', default: false },
  },
});

const log = (line: string) => process.stdout.write(`${line}\n`);
const MiB = 1048576;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

interface KindResult {
  kind: string;
  oldBytes: number;
  newBytes: number;
  schemes: SchemeResult[];
  casync?: CasyncResult;
}

async function main(): Promise<void> {
  const seed = Number(args.seed);
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-delta-study-')));
  await mkdir(dir, { recursive: true });
  const v1 = join(dir, 'tree-v1');
  const v2 = join(dir, 'tree-v2');
  await rm(v1, { recursive: true, force: true });
  const base = await buildBaseTree(USR_SOURCES, v1, Number(args['tree-mib']) * MiB);
  const change = await deriveChangedTree(v1, v2, 0.05, seed);
  log(
    `tree v1: ${base.files} files, ${(base.bytes / MiB).toFixed(1)} MiB; v2: ${change.changed} changed, ${change.removed} removed, ${change.added} added (${(change.changedBytes / MiB).toFixed(1)} MiB of changed or new files), seed ${seed}`,
  );
  const results: KindResult[] = [];
  for (const kind of IMAGE_KINDS) {
    const oldImage = join(dir, `v1.${kind}`);
    const newImage = join(dir, `v2.${kind}`);
    const oldBytes = await makeImage(kind, v1, oldImage, base.bytes);
    const newBytes = await makeImage(kind, v2, newImage, base.bytes);
    const schemes = await measureSchemes(oldImage, newImage);
    const result: KindResult = { kind, oldBytes, newBytes, schemes };
    if (!args['no-casync']) result.casync = await casyncDelta(oldImage, newImage, join(dir, `casync-${kind}`));
    results.push(result);
    log(`\n${kind}: v2 image ${(newBytes / MiB).toFixed(1)} MiB`);
    log('  scheme                        fetch (raw)        fetch (gzip)   index');
    for (const s of schemes) {
      log(
        `  ${s.scheme.padEnd(28)} ${(s.fetchBytes / MiB).toFixed(1).padStart(7)} MiB ${pct(s.fetchBytes, newBytes).padStart(6)}  ${(s.fetchCompressedBytes / MiB).toFixed(1).padStart(7)} MiB  ${(s.indexBytes / 1024).toFixed(0).padStart(6)} KiB`,
      );
    }
    if (result.casync)
      log(
        `  ${'casync (zstd store, seed)'.padEnd(28)} ${''.padStart(15)}  ${(result.casync.fetchBytes / MiB).toFixed(1).padStart(7)} MiB  (${result.casync.requests} requests, ${result.casync.seconds.toFixed(1)} s)`,
      );
  }
  await mkdir('bench/out', { recursive: true });
  await writeFile('bench/out/delta-study.json', `${JSON.stringify({ seed, tree: base, change, results }, null, 2)}\n`);
  if (!args.dir) await rm(dir, { recursive: true, force: true });
}

await main();
