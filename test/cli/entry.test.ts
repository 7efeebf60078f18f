// bin/entry.js runs the compiled build only when it is newer than every source file.

import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript without declarations
import { buildIsFresh } from '../../bin/entry.js';

const root = mkdtempSync(join(tmpdir(), 'ue-entry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fresh = buildIsFresh as (dir: string, env?: NodeJS.ProcessEnv) => boolean;
const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

describe('bin/entry.js', () => {
  it('uses dist/ when its stamp is newer than every file under src/, the sources otherwise', () => {
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli', 'a.ts'), '');
    writeFileSync(join(root, 'src', 'b.ts'), '');
    expect(fresh(root, {})).toBe(false); // no build yet
    writeFileSync(join(root, 'dist', '.build-stamp'), '');
    at(join(root, 'src', 'cli', 'a.ts'), 1000);
    at(join(root, 'src', 'b.ts'), 1000);
    at(join(root, 'dist', '.build-stamp'), 2000);
    expect(fresh(root, {})).toBe(true);
    expect(fresh(root, { UPDATE_ENGINE_FROM_SOURCE: '1' })).toBe(false);
    at(join(root, 'src', 'cli', 'a.ts'), 3000); // an edit after the build, deep in the tree
    expect(fresh(root, {})).toBe(false);
  });
});
