// The boot backends on a disk image whose ESP is a real FAT file system (mkfs.vfat), reached with
// mtools: the A/B lifecycle in the loader's own state (grubenv via grub-editenv, BLS entry names via
// mdir) with the GPT bits kept in step; crash points; the directory ESP; doctor's checks.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LOADER_GUID, slotOfEntryId } from '../../src/boot/bls-store.ts';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installBootConfig, defaultSlots } from '../../src/boot/boot-config.ts';
import { createBootBackend, openEsp } from '../../src/boot/create-boot-backend.ts';
import { DirEsp } from '../../src/boot/esp.ts';
import { MtoolsEsp } from '../../src/boot/mtools-esp.ts';
import { readSlots } from '../../src/slots/index.ts';
import { diskWithEsp, mdir } from '../helpers/esp.ts';
import { tempDir } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

const tmp = tempDir('ue-boot-');
afterAll(tmp.cleanup);
let n = 0;
const AB = { slotAPartition: 3, slotBPartition: 4 };
const config = { kernelDir: '/flatcar', initrd: false, cmdline: 'console=ttyS0', slots: defaultSlots(), timeoutSeconds: 0 };

async function setUp(backend: 'grubenv' | 'bls') {
  const dir = join(tmp.dir, `d${n++}`);
  mkdirSync(dir);
  const image = await diskWithEsp(dir);
  const esp = await MtoolsEsp.open(image.path);
  await installBootConfig(esp, backend, config);
  const boot = createBootBackend({ bootBackend: backend, esp: 'auto', ...AB });
  return { disk: image.path, esp, boot };
}

async function gpt(disk: string): Promise<string> {
  const t = await readSlots(disk, AB);
  const f = (s: typeof t.slotA) => `P${s.priority} T${s.tries} S${s.successful ? 1 : 0}`;
  return `A ${f(t.slotA)} | B ${f(t.slotB)}`;
}

function grubenvList(esp: MtoolsEsp): string {
  requireTool('grub-editenv');
  const file = join(tmp.dir, `env-${n++}`);
  execFileSync('mcopy', ['-n', '-i', `${esp.image}@@${esp.offsetBytes}`, '::/update-engine/grubenv', file], {
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
  });
  return execFileSync('grub-editenv', [file, 'list'], { encoding: 'utf8' }).trim().split('\n').join(' ');
}

describe('grubenv backend', () => {
  it('flip, mark good and reset write the environment block in place and keep the GPT in step', async () => {
    const { disk, esp, boot } = await setUp('grubenv');
    expect(grubenvList(esp)).toBe('UE_ORDER=A A_OK=1 A_TRY=0 B_OK=0 B_TRY=0');
    const before = execFileSync('mshowfat', ['-i', `${disk}@@${esp.offsetBytes}`, '::/update-engine/grubenv'], { encoding: 'utf8' });
    await boot.prepareForTry(disk, 4);
    expect(grubenvList(esp)).toBe('UE_ORDER=B A A_OK=1 A_TRY=0 B_OK=0 B_TRY=1');
    expect(await gpt(disk)).toBe('A P1 T0 S1 | B P2 T1 S0');
    // In place: the block still occupies the same clusters.
    expect(execFileSync('mshowfat', ['-i', `${disk}@@${esp.offsetBytes}`, '::/update-engine/grubenv'], { encoding: 'utf8' })).toBe(before);
    await boot.markGood(disk, 4);
    expect(grubenvList(esp)).toBe('UE_ORDER=B A A_OK=1 A_TRY=0 B_OK=1 B_TRY=0');
    expect(await gpt(disk)).toBe('A P1 T0 S1 | B P2 T0 S1');
    await boot.prepareForTry(disk, 3);
    await boot.reset(disk, 4, 3);
    expect(grubenvList(esp)).toBe('UE_ORDER=B A_OK=0 A_TRY=0 B_OK=1 B_TRY=0');
    expect(await gpt(disk)).toBe('A P0 T0 S0 | B P1 T0 S1');
  });

  it('reads back a try that GRUB spent (B_TRY=0) as tries 0 while the GPT still says 1', async () => {
    const { disk, esp, boot } = await setUp('grubenv');
    await boot.prepareForTry(disk, 4);
    const file = join(tmp.dir, `spent-${n++}`);
    const drive = `${disk}@@${esp.offsetBytes}`;
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    execFileSync('mcopy', ['-n', '-i', drive, '::/update-engine/grubenv', file], { env });
    execFileSync('grub-editenv', [file, 'set', 'B_TRY=0']);
    execFileSync('mcopy', ['-o', '-i', drive, file, '::/update-engine/grubenv'], { env });
    const view = await boot.bootView(disk, (await readSlots(disk, AB)).usrSlots);
    expect(view.find((s) => s.partition === 4)).toMatchObject({ priority: 2, tries: 0, successful: false });
    expect(await gpt(disk)).toBe('A P1 T0 S1 | B P2 T1 S0');
  });

  it('reports the crash points: four GPT writes, then the environment block', async () => {
    const { disk, boot } = await setUp('grubenv');
    const steps: string[] = [];
    await boot.prepareForTry(disk, 4, { afterWrite: (s) => void steps.push(s) });
    expect(steps).toEqual(['gpt backup-entries', 'gpt backup-header', 'gpt primary-entries', 'gpt primary-header', 'grubenv']);
  });

  it('fails with ERR_BOOT_CONFIG naming the file when the block is missing', async () => {
    const dir = join(tmp.dir, `d${n++}`);
    mkdirSync(dir);
    const image = await diskWithEsp(dir);
    const boot = createBootBackend({ bootBackend: 'grubenv', esp: 'auto', ...AB });
    await expect(boot.prepareForTry(image.path, 4)).rejects.toMatchObject({
      code: 'ERR_BOOT_CONFIG',
      message: expect.stringContaining('/update-engine/grubenv'),
    });
    const checks = await boot.describe(image.path);
    expect(
      checks
        .filter((c) => !c.ok)
        .map((c) => c.message)
        .join('\n'),
    ).toMatch(/install-config/);
  });
});

describe('bls backend', () => {
  it('renames the entries with systemd-boot counters and keeps the GPT in step', async () => {
    const { disk, esp, boot } = await setUp('bls');
    const entries = () => mdir(disk, esp.offsetBytes, '/loader/entries');
    expect(entries()).toEqual(['update-engine-0-b+0-0.conf', 'update-engine-1-a.conf']);
    await boot.prepareForTry(disk, 4);
    expect(entries()).toEqual(['update-engine-1-a.conf', 'update-engine-2-b+1-0.conf']);
    expect(await gpt(disk)).toBe('A P1 T0 S1 | B P2 T1 S0');
    // systemd-boot counts the try by renaming before it starts the kernel.
    await esp.rename('/loader/entries/update-engine-2-b+1-0.conf', '/loader/entries/update-engine-2-b+0-1.conf');
    const view = await boot.bootView(disk, (await readSlots(disk, AB)).usrSlots);
    expect(view.find((s) => s.partition === 4)).toMatchObject({ priority: 2, tries: 0, successful: false });
    await boot.markGood(disk, 4);
    expect(entries()).toEqual(['update-engine-1-a.conf', 'update-engine-2-b.conf']);
    expect(await gpt(disk)).toBe('A P1 T0 S1 | B P2 T0 S1');
    const body = (await esp.read('/loader/entries/update-engine-2-b.conf'))?.toString();
    expect(body).toContain('linux /flatcar/vmlinuz-b');
    expect(body).toContain('options mount.usr=PARTLABEL=USR-B ue.slot=B console=ttyS0');
  });

  it("takes the booted slot from systemd-boot's LoaderEntrySelected when the command line and mounts say nothing", async () => {
    const { disk } = await setUp('bls');
    const efivars = join(tmp.dir, `efivars${n++}`);
    mkdirSync(efivars);
    const boot = createBootBackend({ bootBackend: 'bls', esp: 'auto', efivarsDir: efivars, ...AB });
    const empty = join(tmp.dir, `empty${n++}`);
    writeFileSync(empty, '');
    const paths = { procCmdline: empty, procMounts: empty };
    await expect(boot.bootedSlot({ ...AB, disk, paths })).rejects.toMatchObject({ code: 'ERR_SLOT_DETECT' });
    // As efivarfs shows it: 4 bytes of attributes, then UTF-16LE with a NUL.
    const value = Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from('update-engine-2-b+0-1.conf\0', 'utf16le')]);
    writeFileSync(join(efivars, `LoaderEntrySelected-${LOADER_GUID}`), value);
    expect(await boot.bootedSlot({ ...AB, disk, paths })).toEqual({
      disk,
      bootedPartition: 4,
      passivePartition: 3,
      source: 'bls boot loader (EFI variable LoaderEntrySelected)',
    });
    expect(await boot.bootedSlot({ ...AB, disk, bootedPartition: 3, paths })).toMatchObject({ bootedPartition: 3, source: 'BOOTED_PARTITION' });
    expect(slotOfEntryId('update-engine-1-a')).toBe('A');
    expect(slotOfEntryId('debian-6.1.conf')).toBeUndefined();
  });

  it('renames the entry that goes down before the one that goes up', async () => {
    const { disk, boot } = await setUp('bls');
    await boot.prepareForTry(disk, 4);
    await boot.markGood(disk, 4);
    const steps: string[] = [];
    await boot.prepareForTry(disk, 3, { afterWrite: (s) => void steps.push(s) });
    expect(steps.slice(4)).toEqual(['bls update-engine-1-b.conf', 'bls update-engine-2-a+1-0.conf']);
  });

  it('works the same on a directory ESP, and doctor names missing kernels', async () => {
    const dir = join(tmp.dir, `esp${n++}`);
    mkdirSync(dir);
    const esp = new DirEsp(dir);
    await installBootConfig(esp, 'bls', config);
    const diskDir = join(tmp.dir, `d${n++}`);
    mkdirSync(diskDir);
    const image = await diskWithEsp(diskDir);
    const boot = createBootBackend({ bootBackend: 'bls', esp: dir, ...AB });
    await boot.prepareForTry(image.path, 4);
    expect(await esp.list('/loader/entries')).toEqual(['update-engine-1-a.conf', 'update-engine-2-b+1-0.conf']);
    const checks = await boot.describe(image.path);
    expect(checks.filter((c) => !c.ok).map((c) => c.message)).toEqual([
      expect.stringContaining('/flatcar/vmlinuz-a'),
      expect.stringContaining('/flatcar/vmlinuz-b'),
    ]);
    expect(readFileSync(join(dir, 'loader/loader.conf'), 'utf8')).toBe('timeout 0\n');
    await expect(openEsp('/nonexistent-esp', image.path)).rejects.toMatchObject({ code: 'ERR_BOOT_CONFIG' });
  });
});
