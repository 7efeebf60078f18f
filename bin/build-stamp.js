// The build stamp: a SHA-256 over every file under src/ (paths and contents), written to
// dist/.build-stamp by scripts/build.mjs and compared by bin/entry.js. Contents, not mtimes.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** The digest of `root`/src, or undefined when there is no src/ (an install without sources). */
export function sourceDigest(root) {
  const src = join(root, 'src');
  if (!existsSync(src)) return undefined;
  const hash = createHash('sha256');
  for (const file of filesUnder(src))
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex');
}

/** Why the build in `root`/dist cannot run, or undefined when it is there and made from today's src/. */
export function buildProblem(root) {
  let stamp;
  try {
    stamp = readFileSync(join(root, 'dist', '.build-stamp'), 'utf8').trim();
  } catch {
    return `no compiled build in ${join(root, 'dist')}: run \`npm run build\` (or \`npm run dev -- ARGS\` to run from the sources)`;
  }
  const digest = sourceDigest(root);
  if (digest !== undefined && digest !== stamp) {
    return `the compiled build in ${join(root, 'dist')} is older than the sources in ${join(root, 'src')}: run \`npm run build\` (or \`npm run dev -- ARGS\` to run from the sources)`;
  }
  return undefined;
}
