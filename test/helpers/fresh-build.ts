// Vitest global setup: tests that spawn bin/*.js run the compiled build, so it is remade first when
// dist/ is missing or older than src/ (bin/entry.js would refuse it, rightly).
import { execFileSync } from 'node:child_process';
// @ts-expect-error: plain JavaScript without declarations
import { buildProblem } from '../../bin/build-stamp.js';

export default function setup(): void {
  if ((buildProblem as (root: string) => string | undefined)('.') !== undefined) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  }
}
