// How the installed commands start: always from the compiled build in dist/ (npm install makes it;
// `npm run build` remakes it). A missing build, or one made from other sources than those in src/, is
// an error that says `npm run build`: nothing else is ever run instead. `npm run dev` runs the sources.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildProblem } from './build-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs dist/src/cli/<name>.js, or exits 1 with one line saying why the build cannot run. */
export async function start(name) {
  const problem = buildProblem(root);
  if (problem !== undefined) {
    process.stderr.write(`${name}: ${problem}\n`);
    process.exit(1);
  }
  await import(pathToFileURL(join(root, 'dist', 'src', 'cli', `${name}.js`)).href);
}
