// doctor's boot backend line: the backend named, and what the ESP lacks (a real FAT ESP via mtools,
// or a directory), with the install-config fix.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSlots, installBootConfig } from '../../src/boot/boot-config.ts';
import { DirEsp } from '../../src/boot/esp.ts';
import { MtoolsEsp } from '../../src/boot/mtools-esp.ts';
import { settingsSchema } from '../../src/config/schema.ts';
import { checkBootBackend } from '../../src/doctor/boot-checks.ts';
import { diskWithEsp } from '../helpers/esp.ts';
import { tempDir } from '../helpers/disk-image.ts';

const tmp = tempDir('ue-doctor-boot-');
afterAll(tmp.cleanup);
const settings = (bootBackend: string, esp: string) => settingsSchema.parse({ bootBackend, esp });
const config = { kernelDir: '/flatcar', initrd: false, cmdline: '', slots: defaultSlots(), timeoutSeconds: 0 };

describe('doctor: boot backend', () => {
  it('gptprio needs nothing on the ESP', async () => {
    expect(await checkBootBackend(settings('gptprio', '/boot'), undefined)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^gptprio/) });
  });

  it('grubenv on a FAT ESP of the disk: fails before install-config, passes after', async () => {
    const dir = join(tmp.dir, 'fat');
    mkdirSync(dir);
    const image = await diskWithEsp(dir);
    const before = await checkBootBackend(settings('grubenv', 'auto'), image.path);
    expect(before).toMatchObject({ status: 'fail', fix: expect.stringContaining('boot install-config --backend grubenv') });
    expect(before.detail).toContain('/update-engine/grub.cfg missing');
    await installBootConfig(await MtoolsEsp.open(image.path), 'grubenv', config);
    const after = await checkBootBackend(settings('grubenv', 'partition:1'), image.path);
    expect(after).toMatchObject({ status: 'ok' });
    expect(after.detail).toContain('A priority=1 try=0 ok=1, B priority=0 try=0 ok=0');
  });

  it('bls on a directory ESP names the missing kernel, and a missing ESP directory', async () => {
    const dir = join(tmp.dir, 'esp');
    mkdirSync(dir);
    await installBootConfig(new DirEsp(dir), 'bls', config);
    mkdirSync(join(dir, 'flatcar'));
    writeFileSync(join(dir, 'flatcar', 'vmlinuz-a'), 'kernel');
    const r = await checkBootBackend(settings('bls', dir), '/dev/null');
    expect(r.status).toBe('fail');
    expect(r.detail).toContain('The kernel of slot B, /flatcar/vmlinuz-b, is missing');
    expect(r.detail).not.toContain('slot A, /flatcar/vmlinuz-a');
    const gone = await checkBootBackend(settings('bls', join(dir, 'nope')), '/dev/null');
    expect(gone).toMatchObject({ status: 'fail', detail: expect.stringContaining('does not exist') });
  });
});
