import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runCli } from '../helpers/cli.ts';

const sysroot = mkdtempSync(join(tmpdir(), 'ue-sysroot-'));
afterAll(() => rmSync(sysroot, { recursive: true, force: true }));

describe('update-engine config', () => {
  it('prints every setting with its source, later --config files winning', async () => {
    const r = await runCli(
      'update-engine',
      ['config', '--sysroot', sysroot, '--config', 'fixtures/config/flatcar-style.conf', '--config', 'fixtures/config/engine.conf'],
      {
        env: cleanEnv({ UPDATE_ENGINE_REBOOT_STRATEGY: 'best-effort' }),
      },
    );
    expect(r.stderr).not.toMatch(/Error|at .*\.ts/);
    expect(r.code).toBe(0);
    const line = (key: string) => r.stdout.split('\n').find((l) => l.startsWith(`${key}=`) || l.startsWith(`#${key}=`));
    expect(line('GROUP')).toMatch(/^GROUP=stable\s+# fixtures\/config\/engine.conf:2$/);
    expect(line('SERVER')).toMatch(/^SERVER=https:\/\/update.example.net\/v1\/update\/\s+# fixtures\/config\/flatcar-style.conf:3$/);
    expect(line('REBOOT_STRATEGY')).toMatch(/^REBOOT_STRATEGY=best-effort\s+# environment UPDATE_ENGINE_REBOOT_STRATEGY$/);
    expect(line('IO_WRITE_BPS')).toMatch(/^IO_WRITE_BPS=40M\s+# fixtures\/config\/engine.conf:4$/);
    expect(line('REBOOT_WINDOWS')).toMatch(/^REBOOT_WINDOWS="Mon-Fri 02:00 1h; Sat 04:00 3h"\s+# fixtures/);
    expect(line('STATE_DIR')).toMatch(/^STATE_DIR=\/var\/lib\/update-engine\s+# default$/);
    expect(line('LOCKSMITHD_ETCD_PASSWORD')).toMatch(/^LOCKSMITHD_ETCD_PASSWORD="\*\*\*\*\*\*\*\*"/);
    expect(r.stdout).not.toContain('hunter2');
  });

  it('shows a value it cannot derive with a warning, and still exits 0', async () => {
    const r = await runCli('update-engine', ['config', '--sysroot', sysroot]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#VERSION=\s+# not set$/m);
    expect(r.stderr).toMatch(/^warning: VERSION cannot be derived/m);
    expect(r.stderr).toMatch(/^warning: DISK is not set/m);
  });

  it('a stock Flatcar host: shows the vendor SERVER and APP_ID it ignores, with why, and where to set SERVER', async () => {
    const root = mkdtempSync(join(sysroot, 'flatcar-'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(root, 'usr/share/flatcar'), { recursive: true });
    writeFileSync(
      join(root, 'usr/share/flatcar/release'),
      'FLATCAR_RELEASE_VERSION=3975.2.1\nFLATCAR_RELEASE_BOARD=amd64-usr\nFLATCAR_RELEASE_APPID={e96281a6-d1af-4bde-9a0a-97b76e56dc57}\n',
    );
    writeFileSync(
      join(root, 'usr/share/flatcar/update.conf'),
      'SERVER=https://public.update.flatcar-linux.net/v1/update/\nGROUP=stable\nno equals sign here\n',
    );
    const r = await runCli('update-engine', ['config', '--sysroot', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^VERSION=3975\.2\.1 +# .*release:1$/m);
    expect(r.stdout).toMatch(/^SERVER=disabled +# default$/m);
    expect(r.stdout).toMatch(
      /^# ignored: SERVER=https:\/\/public\.update\.flatcar-linux\.net\/v1\/update\/ # .*update\.conf:1: a vendor file names the vendor's update server.*set SERVER in \/etc\/flatcar\/update\.conf$/m,
    );
    expect(r.stdout).toMatch(/^# ignored: APP_ID=.*e96281a6.* # .*release:3: /m);
    expect(r.stderr).toMatch(/^warning: .*update\.conf:3: skipped, no "=" in "no equals sign here"$/m);
    expect(r.stderr).toMatch(
      /^warning: SERVER is not set: no update checks; set SERVER=https:\/\/HOST\/v1\/update\/ \(your Nebraska\) in \/etc\/flatcar\/update\.conf$/m,
    );
  });

  it('prints JSON with --json', async () => {
    const r = await runCli('update-engine', ['config', '--sysroot', sysroot, '--json', '--config', 'fixtures/config/engine.conf']);
    const data = JSON.parse(r.stdout);
    expect(data.VERSION).toEqual({ value: '3602.2.3', source: 'fixtures/config/engine.conf:3' });
    expect(data.BOARD).toEqual({ value: null, source: 'not set' });
  });

  it('rejects a bad file with one line naming file:line, key, value and expectation, exit 3, no stack', async () => {
    const dir = mkdtempSync(join(sysroot, 'bad-'));
    writeFileSync(join(dir, 'bad.conf'), 'GROUP=ok\nDOWNLOAD_BPS=lots\n');
    const r = await runCli('update-engine', ['config', '--sysroot', sysroot, '--config', join(dir, 'bad.conf')]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `update-engine: ${join(dir, 'bad.conf')}:2: DOWNLOAD_BPS="lots": expected a size in bytes, optionally with K, M or G (powers of 1024), e.g. 40M\n`,
    );
  });

  it('has --help, and rejects unknown options with exit 2', async () => {
    const help = await runCli('update-engine', ['config', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: update-engine config');
    const bad = await runCli('update-engine', ['config', '--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--frobnicate'");
  });
});

describe('update-engine dispatcher', () => {
  it('lists the commands with --help', async () => {
    const r = await runCli('update-engine', ['--help']);
    expect(r.code).toBe(0);
    for (const c of ['daemon', 'config', 'payload', 'serve', 'slots', 'boot-sim', 'doctor', 'demo']) expect(r.stdout).toContain(`  ${c}`);
  });
  it('rejects an unknown command with exit 2 and one line', async () => {
    const r = await runCli('update-engine', ['frob']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('update-engine: Unknown command "frob"');
  });
});
