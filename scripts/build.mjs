// Compiles src/ to dist/ (tsc -p tsconfig.build.json) and stamps the build with a digest of src/, so
// that bin/entry.js refuses a stale build. Run by `npm run build` and by npm install (prepare).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sourceDigest } from '../bin/build-stamp.js';

const require = createRequire(import.meta.url);
const digest = sourceDigest('.'); // before compiling: an edit during the build makes the stamp stale, not wrong
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
writeFileSync('dist/.build-stamp', `${digest}\n`);
