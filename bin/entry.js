// How the commands start: from the compiled build in dist/ when it is there and newer than every
// source file (npm install builds it: `npm run build`), else from the TypeScript sources through tsx
// (a fresh edit is never shadowed by a stale build). UPDATE_ENGINE_FROM_SOURCE=1 forces the sources.

import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const ms = entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs;
    if (ms > newest) newest = ms;
  }
  return newest;
}

/** True when `dir`/dist was built after the last change to any file under `dir`/src. */
export function buildIsFresh(dir = root, env = process.env) {
  if (env.UPDATE_ENGINE_FROM_SOURCE === '1') return false;
  try {
    return statSync(join(dir, 'dist', '.build-stamp')).mtimeMs >= newestSourceMs(join(dir, 'src'));
  } catch {
    return false;
  }
}

/** Runs src/cli/<name>.ts, compiled or not. */
export async function start(name) {
  if (buildIsFresh()) {
    await import(pathToFileURL(join(root, 'dist', 'src', 'cli', `${name}.js`)).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', `${name}.ts`)).href);
}
