// Builds the delta benchmark's file trees: v1 is a copy of part of this machine's /usr (regular files
// only, in sorted order, up to a size budget); v2 differs from v1 in a seeded 5% of its files
// (three in five changed in place, one removed, one added), as a release of an OS image would.

import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile, cp } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { seededRandom } from '../../test/helpers/kill-points.ts';

/** Where the trees come from on this machine (Debian 12): Python, Perl, the shared libraries, then /usr/share. */
export const USR_SOURCES = ['/usr/lib/python3.11', '/usr/share/perl', '/usr/lib/x86_64-linux-gnu', '/usr/share'];

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/** Copies regular files from `sources` (in order) into `out` until `budgetBytes` is reached. */
export async function buildBaseTree(sources: string[], out: string, budgetBytes: number): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  let files = 0;
  for (const source of sources) {
    for await (const path of walk(source)) {
      const size = (await stat(path)).size;
      if (size === 0 || size > 64 * 1024 * 1024) continue;
      if (bytes + size > budgetBytes) return { files, bytes };
      const target = join(out, source.replace(/^\//, '').replace(/\//g, '_'), relative(source, path));
      await mkdir(dirname(target), { recursive: true });
      await copyFile(path, target);
      bytes += size;
      files++;
    }
  }
  return { files, bytes };
}

export interface TreeChange {
  changed: number;
  removed: number;
  added: number;
  changedBytes: number;
}

/** Copies `v1` to `v2` and changes `fraction` of its files there. */
export async function deriveChangedTree(v1: string, v2: string, fraction: number, seed: number): Promise<TreeChange> {
  await rm(v2, { recursive: true, force: true });
  await cp(v1, v2, { recursive: true });
  const files: string[] = [];
  for await (const path of walk(v2)) files.push(path);
  const random = seededRandom(seed);
  const picks = new Set<number>();
  const wanted = Math.max(1, Math.round(files.length * fraction));
  while (picks.size < wanted) picks.add(Math.floor(random() * files.length));
  const result: TreeChange = { changed: 0, removed: 0, added: 0, changedBytes: 0 };
  let n = 0;
  const removed = new Set<string>();
  for (const index of [...picks].sort((a, b) => a - b)) {
    const path = files[index]!;
    const kind = n++ % 5;
    if (kind === 3) {
      await rm(path);
      removed.add(path);
      result.removed++;
    } else if (kind === 4) {
      // A new file beside it: another file's bytes with a new header, as a new build of a library would be.
      // Not a file removed above (a draw that hits one draws again; the others draw as before).
      let donorPath: string;
      do donorPath = files[Math.floor(random() * files.length)]!;
      while (removed.has(donorPath));
      const donor = await readFile(donorPath);
      const body = Buffer.concat([Buffer.from(`added ${seed} ${index}\n`), donor.subarray(0, Math.min(donor.length, 256 * 1024))]);
      await writeFile(`${path}.new`, body);
      result.added++;
      result.changedBytes += body.length;
    } else {
      // Changed in place: a few spans rewritten and the file grown a little (a rebuilt binary moves its tail).
      const data = await readFile(path);
      const spans = 1 + Math.floor(random() * 3);
      for (let s = 0; s < spans; s++) {
        const at = Math.floor(random() * data.length);
        const len = Math.min(data.length - at, 16 + Math.floor(random() * 4096));
        for (let i = 0; i < len; i++) data[at + i] = Math.floor(random() * 256);
      }
      const grown = Buffer.concat([
        data.subarray(0, Math.floor(data.length / 2)),
        Buffer.from(`rebuilt ${seed}\n`),
        data.subarray(Math.floor(data.length / 2)),
      ]);
      await writeFile(path, grown);
      result.changed++;
      result.changedBytes += grown.length;
    }
  }
  return result;
}
