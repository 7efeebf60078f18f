// bin/entry.js runs the compiled build and nothing else: a missing or stale build is a one-line error.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript without declarations
import { buildProblem, sourceDigest } from '../../bin/build-stamp.js';

const root = mkdtempSync(join(tmpdir(), 'ue-entry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const problem = buildProblem as (dir: string) => string | undefined;
const digest = sourceDigest as (dir: string) => string | undefined;

function runBin(dir: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(dir, 'bin', 'update-engine.js'), '--version'], { encoding: 'utf8' });
}

describe('bin/entry.js', () => {
  it("accepts a build stamped with the digest of today's src/ and refuses a missing or stale one", () => {
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli', 'a.ts'), 'one');
    writeFileSync(join(root, 'src', 'b.ts'), '');
    expect(problem(root)).toMatch(/^no compiled build in .*: run `npm run build`/);
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist', '.build-stamp'), `${digest(root)}\n`);
    expect(problem(root)).toBeUndefined();
    writeFileSync(join(root, 'src', 'cli', 'a.ts'), 'two'); // an edit after the build, deep in the tree
    expect(problem(root)).toMatch(/is older than the sources .*: run `npm run build`/);
  });

  it('runs the compiled command, and exits 1 with that line (no stack, nothing run instead) on a stale build', () => {
    const copy = join(root, 'repo');
    for (const dir of ['bin', 'src', 'dist']) cpSync(dir, join(copy, dir), { recursive: true });
    cpSync('package.json', join(copy, 'package.json'));
    symlinkSync(resolve('node_modules'), join(copy, 'node_modules'));
    const ok = runBin(copy);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^update-engine \d+\.\d+\.\d+\n$/);
    writeFileSync(join(copy, 'src', 'cli', 'extra.ts'), '// new\n');
    const stale = runBin(copy);
    expect(stale.status).toBe(1);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toBe(
      `update-engine: the compiled build in ${join(copy, 'dist')} is older than the sources in ${join(copy, 'src')}: run \`npm run build\` (or \`npm run dev -- ARGS\` to run from the sources)\n`,
    );
  });
});
