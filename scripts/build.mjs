// Compiles src/ to dist/ (tsc -p tsconfig.build.json) and stamps the build, so that bin/entry.js can
// tell a fresh build from a stale one. Run by `npm run build` and by npm install (prepare).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
