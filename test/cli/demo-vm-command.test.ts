// update-engine demo --vm: usage, and one full run (stock GRUB in QEMU: A, then B on its try, then B
// for good) with the serial log kept in --dir.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

const tmp = tempDir('ue-demo-vm-');
afterAll(tmp.cleanup);

describe('update-engine demo --vm', () => {
  it('has --help and refuses an unknown backend', async () => {
    const [help, bad, stray] = await Promise.all([
      runCli('update-engine', ['demo', '--vm', '--help']),
      runCli('update-engine', ['demo', '--vm', '--backend', 'gptprio']),
      runCli('update-engine', ['demo', '--backend', 'bls']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: update-engine demo --vm [--backend grubenv|bls] [--dir DIR]');
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('update-engine: --backend must be grubenv or bls, got "gptprio"');
    expect(stray.code).toBe(2);
    expect(stray.stderr.split('\n')[0]).toBe('update-engine: --backend goes with --vm');
  });

  it('boots A, then B, then B again, and keeps the serial log', async () => {
    for (const t of ['qemu-system-x86_64', 'grub-mkimage', 'mkfs.vfat', 'mcopy', 'mke2fs', 'cpio', 'busybox']) requireTool(t);
    const dir = join(tmp.dir, 'run');
    const r = await runCli('update-engine', ['demo', '--vm', '--dir', dir], { timeoutMs: 600_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1\. fresh disk: the VM booted USR-A \(\/dev\/vda3\), version 1\.0\.0/);
    expect(r.stdout).toMatch(/2\. daemon installed 2\.0\.0 into USR-B and flipped; the VM booted USR-B, version 2\.0\.0/);
    expect(r.stdout).toMatch(/4\. daemon marked USR-B good; the next boot: USR-B, version 2\.0\.0/);
    expect(r.stdout).toContain('Summary: A -> B (try) -> B (good), as expected; 3 boots under TCG');
    const serial = readFileSync(join(dir, 'serial.log'), 'utf8');
    expect(serial.match(/UE-BOOTED slot=\w/g)).toEqual(['UE-BOOTED slot=A', 'UE-BOOTED slot=B', 'UE-BOOTED slot=B']);
    expect(serial).toContain("Booting `update-engine USR-B'");
  }, 900_000);
});
