// update-engine demo --vm: the update proven by a real bootloader. A disk image with an ESP (stock
// GRUB or systemd-boot, a Debian kernel, a busybox initramfs) boots in QEMU; between boots the real
// daemon on the host updates the same image. Cases 1, 2 and 4 of issue 16, with a short summary.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { VmLab } from '../../demo/vm/vm-lab.ts';
import { UpdateEngineError } from '../../errors.ts';
import { createLogger } from '../../platform/logger.ts';
import { println, usageError, type CommandContext } from '../run.ts';

export const VM_HELP = `Usage: update-engine demo --vm [--backend grubenv|bls] [--dir DIR]

The A/B update proven by a bootloader no one here wrote: a GPT disk image whose ESP holds stock
GRUB (BOOT_BACKEND=grubenv) or systemd-boot (bls), a Debian kernel and a busybox initramfs, booted
in QEMU (TCG) under OVMF. The initramfs prints the slot the bootloader chose and the version its
file system holds, then powers off. Between boots the daemon on the host works on the same image:
  1. the fresh disk boots A (1.0.0)
  2. the daemon installs 2.0.0 into B and flips; the VM boots B once (its one try)
  4. the daemon's post-boot cycle marks B good; the next boot is B again
No root: the image is made with the project's GPT code, mkfs.vfat, mtools and mke2fs.
Needs the Debian packages that scripts/setup.sh installs (and its kernel download in .cache/vm).

Options:
  --backend NAME  grubenv (default) or bls
  --dir DIR       keep the disk image and serial.log (the VM's console) in DIR`;

export async function runVmDemo(values: { backend?: string | undefined; dir?: string | undefined }, ctx: CommandContext): Promise<number> {
  const backend = values.backend ?? 'grubenv';
  if (backend !== 'grubenv' && backend !== 'bls') throw usageError(`--backend must be grubenv or bls, got "${backend}"`);
  const keep = values.dir !== undefined;
  const dir = keep ? resolve(values.dir as string) : await mkdtemp(`${tmpdir()}/update-engine-vm-demo-`);
  if (keep) {
    await mkdir(dir, { recursive: true });
    for (const d of ['state', 'run', 'payloads']) await rm(`${dir}/${d}`, { recursive: true, force: true });
    await rm(`${dir}/efivars.fd`, { force: true });
  }
  const out = (line = '') => println(ctx.stdout, line);
  const logger = createLogger({ level: 'warn', name: 'update-engine', destination: ctx.stderr, pretty: true });
  const vm = new VmLab({ dir, backend, logger, signal: ctx.signal });
  const started = performance.now();
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  try {
    out(
      `update-engine demo --vm: BOOT_BACKEND=${backend}, ${backend === 'grubenv' ? 'stock GRUB reading the GRUB environment block' : 'systemd-boot reading BLS entries with boot counting'}`,
    );
    out(`  work dir: ${dir}${keep ? '' : ' (removed at the end; keep it with --dir DIR)'}`);
    await vm.setUp();
    out('  disk.img: ESP (bootloader, vmlinuz-a/-b, initrd-a/-b, boot config), USR-A = ext4 holding 1.0.0, USR-B empty');
    const b1 = await vm.boot('case 1: fresh disk');
    out(`1. fresh disk: the VM booted ${b1.label} (${b1.device}), version ${b1.version}            [${s(b1.durationMs)}]`);
    await vm.offer('2.0.0');
    const code = await vm.daemonOnce();
    if (code !== 0) throw new UpdateEngineError('ERR_INTERNAL', `The update cycle exited ${code}`);
    const b2 = await vm.boot('case 2: after the update');
    out(`2. daemon installed 2.0.0 into USR-B and flipped; the VM booted ${b2.label}, version ${b2.version} [${s(b2.durationMs)}]`);
    const code2 = await vm.daemonOnce();
    if (code2 !== 0) throw new UpdateEngineError('ERR_INTERNAL', `The post-boot cycle exited ${code2}`);
    const b3 = await vm.boot('case 4: after mark-good');
    out(`4. daemon marked USR-B good; the next boot: ${b3.label}, version ${b3.version}          [${s(b3.durationMs)}]`);
    const ok = b1.slot === 'A' && b2.slot === 'B' && b3.slot === 'B';
    out();
    out(
      `Summary: ${ok ? 'A -> B (try) -> B (good), as expected' : 'UNEXPECTED boot order'}; ${vm.boots.length} boots under TCG, ${s(Math.min(...vm.boots.map((b) => b.durationMs)))}-${s(Math.max(...vm.boots.map((b) => b.durationMs)))} each; demo wall time ${s(performance.now() - started)}.`,
    );
    if (keep) out(`  serial console of every boot: ${vm.serialLog}`);
    return ok ? 0 : 1;
  } finally {
    await vm.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
