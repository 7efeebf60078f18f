// The VM cases of issue 16 for one boot backend, shared by the grubenv and bls test files: a real
// firmware (OVMF), a bootloader no one here wrote (GRUB, systemd-boot) and a Debian kernel boot the
// disk image that the host's daemon updates between boots.

import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createBootBackend } from '../../../src/boot/create-boot-backend.ts';
import { MtoolsEsp } from '../../../src/boot/mtools-esp.ts';
import { VmLab } from '../../../src/demo/vm/vm-lab.ts';
import type { VmBackend } from '../../../src/demo/vm/vm-disk.ts';
import { readSlots } from '../../../src/slots/index.ts';
import { requireTool } from '../../helpers/tools.ts';

const AB = { slotAPartition: 3, slotBPartition: 4 };

async function slotsAsLoaderSees(vm: VmLab, backend: VmBackend) {
  const gpt = (await readSlots(vm.disk, AB)).usrSlots;
  const view = await createBootBackend({ bootBackend: backend, esp: 'auto', ...AB }).bootView(vm.disk, gpt);
  return { gpt, view, b: view.find((s) => s.partition === 4), gptB: gpt.find((s) => s.partition === 4) };
}

/** Cases 1-4 then 5; returns the boot times (ms) and the crash-point outcomes. */
export async function runVmCases(backend: VmBackend): Promise<{ bootMs: number[]; crash: { step: string; slot: string }[] }> {
  for (const t of ['qemu-system-x86_64', 'grub-mkimage', 'mkfs.vfat', 'mcopy', 'mke2fs', 'cpio', 'busybox']) requireTool(t);
  const dir = await mkdtemp(join(tmpdir(), `ue-vm-${backend}-`));
  const vm = new VmLab({ dir, backend });
  try {
    await vm.setUp();

    // 1. A fresh disk boots A.
    expect((await vm.boot('case 1: fresh disk')).slot).toBe('A');

    // 2. After the engine applies an update, the VM boots B.
    await vm.offer('2.0.0');
    expect(await vm.daemonOnce()).toBe(0);
    expect((await vm.state()).pendingUpdate).toMatchObject({ version: '2.0.0', partition: 4 });
    expect(await vm.boot('case 2: after the update to 2.0.0')).toMatchObject({ slot: 'B', version: '2.0.0' });
    // The bootloader spent the one try, outside the GPT (which still says tries=1).
    const afterTry = await slotsAsLoaderSees(vm, backend);
    expect(afterTry.b).toMatchObject({ tries: 0, successful: false });
    expect(afterTry.gptB).toMatchObject({ tries: 1, successful: false });

    // 3. Without mark-good the next boot is A again; the engine then reports the rollback.
    expect(await vm.boot('case 3: B was not marked good')).toMatchObject({ slot: 'A', version: '1.0.0' });
    expect(await vm.daemonOnce()).toBe(0);
    const rolled = await vm.state();
    expect(rolled.failedVersions?.['2.0.0']).toMatchObject({ code: 'ERR_ROLLBACK' });
    expect(rolled.pendingUpdate).toBeUndefined();
    const off = await slotsAsLoaderSees(vm, backend);
    expect(off.b?.priority).toBe(0);
    expect(off.gptB?.priority).toBe(0);

    // 4. With mark-good after the B boot, every later boot is B.
    await vm.offer('3.0.0');
    expect(await vm.daemonOnce()).toBe(0);
    expect(await vm.boot('case 4: after the update to 3.0.0')).toMatchObject({ slot: 'B', version: '3.0.0' });
    expect(await vm.daemonOnce()).toBe(0);
    const good = await slotsAsLoaderSees(vm, backend);
    expect(good.b).toMatchObject({ successful: true, tries: 0 });
    expect(good.gptB).toMatchObject({ successful: true, tries: 0 });
    expect((await vm.boot('case 4: B marked good, a later boot')).slot).toBe('B');
    // (Case 5's cuts before the loader's last write are further later boots: all B.)

    // 5. A crash at each write of the flip (to A, which now holds 4.0.0): A or B, never nothing.
    await vm.writeSlot(3, '4.0.0');
    const before = join(dir, 'before-flip.img');
    await copyFile(vm.disk, before);
    const steps = await vm.flip(3);
    const crash: { step: string; slot: string }[] = [];
    const whole = await vm.boot(`case 5: the whole flip (${steps.join(', ')})`);
    expect(whole.slot).toBe('A');
    crash.push({ step: `after ${steps[steps.length - 1]} (all ${steps.length} writes)`, slot: whole.slot });
    for (let k = 0; k < steps.length - 1; k += 1) {
      await copyFile(before, vm.disk);
      const done = await vm.flip(3, k);
      expect(done).toEqual(steps.slice(0, k + 1));
      const r = await vm.boot(`case 5: crash after write ${k} (${steps[k]})`);
      crash.push({ step: `after ${steps[k]}`, slot: r.slot });
      // Until the loader's last write the old slot B stays the one booted.
      expect(r.slot).toBe('B');
    }
    if (backend === 'grubenv') {
      // A block GRUB cannot read (its signature gone): load_env fails, the fragment's defaults boot A.
      await copyFile(before, vm.disk);
      await (await MtoolsEsp.open(vm.disk)).overwriteInPlace('/update-engine/grubenv', Buffer.alloc(1024, '#'));
      const r = await vm.boot('case 5: the environment block unreadable');
      crash.push({ step: 'grubenv unreadable', slot: r.slot });
      expect(r.slot).toBe('A');
    }
    return { bootMs: vm.boots.map((b) => b.durationMs), crash };
  } finally {
    await vm.close();
    await rm(dir, { recursive: true, force: true });
  }
}
