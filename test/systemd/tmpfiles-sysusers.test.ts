// Tests of systemd/tmpfiles.d and systemd/sysusers.d: applied with the real tools under a temporary
// root, they make RUN_DIR (0755 root) and the control socket's group, which the daemon's lookup finds.

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { lookupGroupId } from '../../src/daemon/control-server.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

const TMPFILES = join(REPO_ROOT, 'systemd', 'tmpfiles.d', 'update-engine.conf');
const SYSUSERS = join(REPO_ROOT, 'systemd', 'sysusers.d', 'update-engine.conf');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ue-units-root-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function run(tool: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('systemd/tmpfiles.d/update-engine.conf', () => {
  it('creates RUN_DIR (the default /run/update-engine) with mode 0755, owned by root', async () => {
    requireTool('systemd-tmpfiles');
    requireRoot('creating root-owned directories with systemd-tmpfiles');
    const result = run('systemd-tmpfiles', ['--create', `--root=${root}`, TMPFILES]);
    expect(result).toEqual({ status: 0, output: '' });
    const runDir = settingsSchema.parse({}).runDir;
    const st = await stat(join(root, runDir));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o755);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });
});

describe('systemd/sysusers.d/update-engine.conf', () => {
  it('creates the group "update-engine", which the control socket finds as CONTROL_GROUP', async () => {
    requireTool('systemd-sysusers');
    requireRoot('systemd-sysusers under a temporary root');
    await mkdir(join(root, 'etc'));
    const result = run('systemd-sysusers', [`--root=${root}`, SYSUSERS]);
    expect(result.status, result.output).toBe(0);
    const gid = await lookupGroupId('update-engine', join(root, 'etc', 'group'));
    expect(gid).toBeGreaterThan(0);
    await expect(lookupGroupId('update-engine-missing', join(root, 'etc', 'group'))).rejects.toThrow(/is not a group/);
  });
});
