// Compiles src/ into a private build for the apply benchmark (bench/out/engine-build), the way
// `npm run build` makes dist/: the daemon then runs compiled, as installed, and edits others make to
// src/ while the benchmark runs cannot switch it back to the TypeScript sources halfway.

import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export const ENGINE_BUILD_DIR = 'bench/out/engine-build';

/** Builds and returns the path of the compiled `update-engine` entry point. */
export function buildEngine(): string {
  const require = createRequire(import.meta.url);
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  rmSync(ENGINE_BUILD_DIR, { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', ENGINE_BUILD_DIR], { stdio: 'inherit' });
  return resolve(ENGINE_BUILD_DIR, 'src', 'cli', 'update-engine.js');
}
