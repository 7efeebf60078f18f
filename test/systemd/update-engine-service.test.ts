// Tests of systemd/update-engine.service: `systemd-analyze verify` passes on it (rendered with a test
// ExecStart binary) and with the example drop-in; the options the engine depends on are there, the
// ones that would break it are not; the exposure score stays low; its ExecStart command exists.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { REPO_ROOT, runCli } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const UNIT = join(REPO_ROOT, 'systemd', 'update-engine.service');
const DROP_IN = join(REPO_ROOT, 'systemd', 'examples', 'update-engine.service.d', 'local.conf');
const DELEGATE_SUBGROUP = join(REPO_ROOT, 'systemd', 'update-engine.service.d', '10-delegate-subgroup.conf');
const REAL_EXEC_START = 'ExecStart=/usr/bin/update-engine daemon';

/** Section -> key -> values, in file order (comments and blank lines skipped). */
type UnitFile = Map<string, Map<string, string[]>>;

function parseUnit(text: string): UnitFile {
  const out: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      out.set(header[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 1) throw new Error(`Not a unit file line: ${JSON.stringify(raw)}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

const get = (unit: UnitFile, section: string, key: string): string[] => unit.get(section)?.get(key) ?? [];

function systemdVersion(): number {
  const text = execFileSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return Number(/systemd (\d+)/.exec(text)?.[1] ?? 0);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-systemd-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The unit with ExecStart pointing at an executable that exists here; nothing else changed. */
async function renderUnit(withDropIn: boolean): Promise<string> {
  const text = await readFile(UNIT, 'utf8');
  const binary = join(dir, 'update-engine');
  await writeFile(binary, '#!/bin/sh\nexit 0\n');
  await chmod(binary, 0o755);
  const rendered = text.replace(REAL_EXEC_START, `ExecStart=${binary} daemon`);
  expect(rendered).not.toBe(text);
  const path = join(dir, 'update-engine.service');
  await writeFile(path, rendered);
  if (withDropIn) {
    await mkdir(join(dir, 'update-engine.service.d'));
    await writeFile(join(dir, 'update-engine.service.d', 'local.conf'), await readFile(DROP_IN, 'utf8'));
  }
  return path;
}

/**
 * Runs `systemd-analyze verify` (as --user with a private XDG_RUNTIME_DIR: no systemd runs here and
 * /run may be missing); returns its exit code and the complaints about our files.
 */
function verify(path: string, extraDropIn?: string): { status: number | null; complaints: string[] } {
  const runtime = join(dir, 'xdg-runtime');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  if (extraDropIn) {
    mkdirSync(join(dir, 'update-engine.service.d'), { recursive: true });
    copyFileSync(extraDropIn, join(dir, 'update-engine.service.d', basename(extraDropIn)));
  }
  const r = spawnSync('systemd-analyze', ['verify', '--user', path], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_COLOR: '0', XDG_RUNTIME_DIR: runtime },
  });
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(dir) || l.includes('update-engine'));
  return { status: r.status, complaints: lines };
}

describe('systemd/update-engine.service', () => {
  it('passes systemd-analyze verify', async () => {
    requireTool('systemd-analyze');
    expect(verify(await renderUnit(false))).toEqual({ status: 0, complaints: [] });
  });

  it('passes systemd-analyze verify with the example drop-in', async () => {
    requireTool('systemd-analyze');
    expect(verify(await renderUnit(true))).toEqual({ status: 0, complaints: [] });
  });

  it('keeps DelegateSubgroup= (systemd 254+) in its own drop-in: clean on 254+, the one known warning before', async () => {
    requireTool('systemd-analyze');
    expect(await readFile(UNIT, 'utf8')).not.toMatch(/^\s*DelegateSubgroup\s*=/m);
    expect(
      parseUnit(await readFile(DELEGATE_SUBGROUP, 'utf8'))
        .get('Service')
        ?.get('DelegateSubgroup'),
    ).toEqual(['main']);
    const result = verify(await renderUnit(false), DELEGATE_SUBGROUP);
    if (systemdVersion() >= 254) expect(result).toEqual({ status: 0, complaints: [] });
    else
      expect(result.complaints.map((l) => l.replace(/^.*?: /, ''))).toEqual([
        expect.stringMatching(/Unknown key '?DelegateSubgroup'? in section \[Service\], ignoring/),
      ]);
  });

  it('verify fails on a broken unit (the check itself works)', async () => {
    requireTool('systemd-analyze');
    const path = await renderUnit(false);
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^ExecStart=.*$/m, 'ExecStart=relative/path daemon'));
    const result = verify(path);
    expect(result.status !== 0 || result.complaints.length > 0).toBe(true);
  });

  it('keeps its own cgroups: Delegate=yes and no ProtectControlGroups, with the reason in a comment', async () => {
    const text = await readFile(UNIT, 'utf8');
    const unit = parseUnit(text);
    expect(get(unit, 'Service', 'Delegate')).toEqual(['yes']);
    expect(get(unit, 'Service', 'ProtectControlGroups')).toEqual([]);
    expect(text).not.toMatch(/^\s*ProtectControlGroups\s*=\s*(yes|true|1|on)/im);
    expect(text).toMatch(/^#.*ProtectControlGroups=yes.*\n#.*token bucket/m);
  });

  it('may write the slots and the GPT, STATE_DIR and RUN_DIR (kept across restarts), at the default paths', async () => {
    const unit = parseUnit(await readFile(UNIT, 'utf8'));
    const defaults = settingsSchema.parse({});
    expect(get(unit, 'Service', 'PrivateDevices')).toEqual([]);
    expect(get(unit, 'Service', 'DeviceAllow')).toEqual(['block-* rw']);
    expect(get(unit, 'Service', 'StateDirectory').map((d) => `/var/lib/${d}`)).toEqual([defaults.stateDir]);
    expect(get(unit, 'Service', 'RuntimeDirectory').map((d) => `/run/${d}`)).toEqual([defaults.runDir]);
    expect(defaults.controlSocket.startsWith(`${defaults.runDir}/`)).toBe(true);
    expect(get(unit, 'Service', 'RuntimeDirectoryPreserve')).toEqual(['yes']);
    expect(get(unit, 'Service', 'ProtectSystem')).toEqual(['strict']);
    expect(get(unit, 'Service', 'MemoryDenyWriteExecute')).toEqual([]);
  });

  it('runs `update-engine daemon` as Type=notify with a watchdog, restarts on failure, and has a low IO weight', async () => {
    const unit = parseUnit(await readFile(UNIT, 'utf8'));
    expect(get(unit, 'Service', 'ExecStart')).toEqual(['/usr/bin/update-engine daemon']);
    expect(get(unit, 'Service', 'Type')).toEqual(['notify']);
    // The messages come from systemd-notify, a child of the daemon.
    expect(get(unit, 'Service', 'NotifyAccess')).toEqual(['all']);
    expect(get(unit, 'Service', 'WatchdogSec')).toEqual(['60s']);
    expect(get(unit, 'Service', 'TimeoutStartSec')).toEqual(['15min']);
    expect(get(unit, 'Service', 'Restart')).toEqual(['on-failure']);
    expect(get(unit, 'Service', 'RestartSec')).toEqual(['30s']);
    expect(Number(get(unit, 'Service', 'IOWeight')[0])).toBeLessThan(100);
    expect(get(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
    const help = await runCli('update-engine', ['daemon', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: update-engine daemon/);
  });

  it('keeps a low exposure score in systemd-analyze security', async () => {
    requireTool('systemd-analyze');
    const runtime = join(dir, 'xdg-runtime');
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    const r = spawnSync('systemd-analyze', ['security', '--user', '--offline=true', await renderUnit(false)], {
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
    });
    const score = Number(/Overall exposure level for update-engine\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(3.5);
  });
});
