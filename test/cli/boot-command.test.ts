// update-engine boot install-config: writes the grubenv or bls configuration onto a directory ESP;
// GRUB's grub-editenv reads the block it writes; usage errors are one line, nothing written.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

const tmp = tempDir('ue-boot-cli-');
afterAll(tmp.cleanup);
let n = 0;
const esp = () => {
  const dir = join(tmp.dir, `esp${n++}`);
  mkdirSync(dir);
  return dir;
};

describe('update-engine boot install-config', () => {
  it('has --help', async () => {
    const help = await runCli('update-engine', ['boot', 'install-config', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: update-engine boot install-config --backend grubenv|bls --esp DIR');
  });

  it('writes the grub.cfg fragment and an environment block that grub-editenv lists', async () => {
    requireTool('grub-editenv');
    const dir = esp();
    const r = await runCli('update-engine', ['boot', 'install-config', '--backend', 'grubenv', '--esp', dir, '--initrd', '--cmdline', 'console=ttyS0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${dir}/update-engine/grub.cfg\nwrote ${dir}/update-engine/grubenv\n`);
    const cfg = readFileSync(join(dir, 'update-engine/grub.cfg'), 'utf8');
    expect(cfg).toContain('load_env --file "$ue_env" UE_ORDER A_OK A_TRY B_OK B_TRY');
    expect(cfg).toContain('linux /flatcar/vmlinuz-b mount.usr=PARTLABEL=USR-B ue.slot=B console=ttyS0');
    expect(cfg).toContain('initrd /flatcar/initrd-a');
    expect(execFileSync('grub-editenv', [join(dir, 'update-engine/grubenv'), 'list'], { encoding: 'utf8' })).toBe(
      'UE_ORDER=A\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n',
    );
  });

  it('writes loader.conf and one BLS entry per slot', async () => {
    const dir = esp();
    const r = await runCli('update-engine', ['boot', 'install-config', '--backend', 'bls', '--esp', dir, '--timeout', '3']);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'loader/entries')).sort()).toEqual(['update-engine-0-b+0-0.conf', 'update-engine-1-a.conf']);
    expect(readFileSync(join(dir, 'loader/loader.conf'), 'utf8')).toBe('timeout 3\n');
    expect(readFileSync(join(dir, 'loader/entries/update-engine-1-a.conf'), 'utf8')).toBe(
      'title update-engine USR-A\nlinux /flatcar/vmlinuz-a\noptions mount.usr=PARTLABEL=USR-A ue.slot=A\n',
    );
  });

  it('refuses bad input with one line and writes nothing', async () => {
    const dir = esp();
    const cases: [string[], string][] = [
      [['--backend', 'gptprio', '--esp', dir], 'update-engine: --backend must be grubenv or bls, got "gptprio"'],
      [['--backend', 'bls'], 'update-engine: boot install-config needs --esp DIR'],
      [['--backend', 'bls', '--esp', join(dir, 'nope')], `update-engine: The ESP directory "${join(dir, 'nope')}" does not exist`],
      [['--backend', 'grubenv', '--esp', dir, '--cmdline', 'a;b'], 'update-engine: --cmdline must not contain newlines, quotes, "$", ";" or backslashes'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli('update-engine', ['boot', 'install-config', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(message);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
