// Compiles src/ into a private build for the apply benchmark (bench/out/engine-build), the way
// `npm run build` makes dist/: the daemon then runs compiled, as installed, and edits others make to
// src/ while the benchmark runs cannot switch it back to the TypeScript sources halfway.

import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export const ENGINE_BUILD_DIR = 'bench/out/engine-build';

/** Builds and returns the path of the compiled `update-engine` entry point. */
export function buildEngine(): string {
  const require = createRequire(import.meta.url);
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  rmSync(ENGINE_BUILD_DIR, { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', ENGINE_BUILD_DIR], { stdio: 'inherit' });
  // src/version.ts reads the version from the package.json beside the build, as in dist/.
  copyFileSync('package.json', `${ENGINE_BUILD_DIR}/package.json`);
  return resolve(ENGINE_BUILD_DIR, 'src', 'cli', 'update-engine.js');
}

/** bin/update-engine.js's `#!/usr/bin/env -S [NAME=VALUE ...] node [options]` line, taken apart. */
function launcherLine(launcher: string): { env: Record<string, string>; nodeArgs: string[] } {
  const shebang = readFileSync(launcher, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env\s+(?:-S\s+)?((?:\w+=\S*\s+)*)node\b(.*)$/.exec(shebang);
  if (!m) throw new Error(`${launcher} does not start with "#!/usr/bin/env [-S] [NAME=VALUE ...] node": ${shebang}`);
  const env = Object.fromEntries(
    (m[1] ?? '')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
  );
  return { env, nodeArgs: (m[2] ?? '').trim().split(/\s+/).filter(Boolean) };
}

/** The node options the installed command starts with: those on bin/update-engine.js's first line. */
export function launcherNodeArgs(launcher = 'bin/update-engine.js'): string[] {
  return launcherLine(launcher).nodeArgs;
}

/** The environment the installed command starts node with (MALLOC_MMAP_THRESHOLD_): the NAME=VALUE words on its first line. */
export function launcherEnv(launcher = 'bin/update-engine.js'): Record<string, string> {
  return launcherLine(launcher).env;
}
