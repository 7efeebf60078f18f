// The README's first command: `update-engine demo` runs a whole cycle and cleans up after itself.

import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, runCli } from '../helpers/cli.ts';

describe('update-engine demo', () => {
  it('updates 1.0.0 -> 2.0.0, boots the new slot, marks it good, and removes its work dir', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ue-demo-test-'));
    const r = await runCli('update-engine', ['demo', '--image-size', '8'], { env: cleanEnv({ TMPDIR: tmp }) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {5}4 +USR-B +2 +1 +no +2\.0\.0$/m); // flipped, one try
    expect(r.stdout).toMatch(/booted partition 4 \(USR-B\)/);
    expect(r.stdout).toMatch(/^ {5}4 +USR-B +2 +0 +yes +2\.0\.0$/m); // marked good
    expect(r.stdout).toContain('13/1, 14/1, 800/1, 3/2 (previousversion 1.0.0)');
    expect(r.stdout).toMatch(/^Summary: updated 1\.0\.0 -> 2\.0\.0; .* MiB\/s; demo wall time [\d.]+ s\.$/m);
    expect(readdirSync(tmp).filter((name) => !name.startsWith('tsx-'))).toEqual([]); // tsx keeps its compile cache there
  });

  it('keeps everything in --dir', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ue-demo-keep-')), 'work');
    const r = await runCli('update-engine', ['demo', '--dir', dir, '--image-size', '4']);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'disk.img'))).toBe(true);
    expect(existsSync(join(dir, 'payloads', 'update-2.0.0.payload'))).toBe(true);
  });

  it('rejects a bad --image-size with one line and exit 2', async () => {
    const r = await runCli('update-engine', ['demo', '--image-size', 'big']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('update-engine: --image-size must be a whole number of MiB from 1 to 4096, not "big"');
  });
});
