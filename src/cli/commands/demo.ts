// update-engine demo [--dir DIR]: a full update cycle on a throwaway disk image, with the real
// daemon, payload and Omaha code. No root, no network beyond loopback, never reads /etc, never
// runs a reboot command (the boot simulator plays the bootloader).

import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { relative, resolve } from 'node:path';
import { UpdateEngineError } from '../../errors.ts';
import { runDaemon } from '../../daemon/main.ts';
import type { UpdateEngine } from '../../daemon/engine.ts';
import { UpdateLab, TEST_PRIVATE_KEY } from '../../demo/lab.ts';
import { buildRootfsImage, fakeKernel, listKernels, makeDemoEsp, makeRootfs, osDemoMissing } from '../../demo/os-lab.ts';
import { createLogger } from '../../platform/logger.ts';
import type { Slot } from '../../slots/index.ts';
import { parseCommandLine, println, type Command } from '../run.ts';
import { createStatusView } from '../status-view.ts';

const HELP = `Usage: update-engine demo [--dir DIR] [--image-size SIZE_MIB] [--raw]
       update-engine demo --vm [--backend grubenv|bls] [--dir DIR]   (see demo --vm --help)

A full update cycle on a throwaway disk image: a GPT disk with two /usr slots, a signed payload
for version 2.0.0 made with the TEST-ONLY key, a development Omaha server on 127.0.0.1, the
daemon's update cycle (download, verify, write, flip), the boot simulator as the bootloader, and
the post-boot cycle (health check, mark good, report). No root; nothing outside the work
directory is written; /etc is never read; no reboot command is run.

Run as root with mksquashfs, fusefat, dosfstools and mtools installed, the demo is a whole-OS update:
the images are built from rootfs trees (a kernel at /boot/vmlinuz and a /postinst) into squashfs,
the disk gets a FAT32 ESP with flatcar/vmlinuz-a, and the post-install step puts the new kernel
there as vmlinuz-b and runs /postinst before the flip; the kernel files are shown before and after.

Options:
  --raw               the rootless demo with raw images even when the whole-OS one could run
  --dir DIR           keep everything in DIR (default: a temporary directory, removed at the end)
  --image-size MIB    size of the /usr image in the payload (default 64)
  --vm                boot the updated disk in QEMU with a real bootloader instead (--backend grubenv|bls)
  -h, --help          show this help`;

const MiB = 1024 * 1024;

function slotTable(slots: Slot[], versions: Map<number, string>): string[] {
  const rows = [['PART', 'LABEL', 'PRIORITY', 'TRIES', 'SUCCESSFUL', 'VERSION']];
  for (const s of slots)
    rows.push([String(s.partition), s.label, String(s.priority), String(s.tries), s.successful ? 'yes' : 'no', versions.get(s.partition) ?? '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `     ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
}

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    dir: { type: 'string' },
    'image-size': { type: 'string' },
    raw: { type: 'boolean' },
    vm: { type: 'boolean' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.vm) {
    const vm = await import('./demo-vm.ts');
    if (values.help) {
      println(ctx.stdout, vm.VM_HELP);
      return 0;
    }
    return vm.runVmDemo({ backend: values.backend, dir: values.dir }, ctx);
  }
  if (values.backend !== undefined) throw new UpdateEngineError('ERR_USAGE', '--backend goes with --vm');
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const imageMiB = values['image-size'] === undefined ? 64 : Number(values['image-size']);
  if (!Number.isInteger(imageMiB) || imageMiB < 1 || imageMiB > 4096)
    throw new UpdateEngineError('ERR_USAGE', `--image-size must be a whole number of MiB from 1 to 4096, not "${values['image-size']}"`);
  const keep = values.dir !== undefined;
  const dir = keep ? resolve(values.dir as string) : await mkdtemp(`${tmpdir()}/update-engine-demo-`);
  if (keep) {
    await mkdir(dir, { recursive: true });
    if (
      await stat(`${dir}/disk.img`).then(
        () => true,
        () => false,
      )
    )
      await rm(`${dir}/state`, { recursive: true, force: true });
    await rm(`${dir}/run`, { recursive: true, force: true });
  }
  const out = (line = '') => println(ctx.stdout, line);
  const wallStart = performance.now();
  const missing = values.raw ? 'raw' : await osDemoMissing();
  const wholeOs = missing === undefined;
  const lab = new UpdateLab({
    dir,
    initialVersion: '1.0.0',
    usrSizeBytes: Math.max(16, imageMiB + 16) * MiB,
    imageSizeBytes: imageMiB * MiB,
    ...(wholeOs ? { efiSizeBytes: 40 * MiB } : {}),
  });
  const kernelDir = `${dir}/boot/flatcar`;
  const logger = createLogger({ level: 'warn', name: 'update-engine', destination: ctx.stderr, pretty: true });
  try {
    out('update-engine demo: one full A/B update cycle on a throwaway disk image');
    out(`  work dir: ${dir}${keep ? '' : ' (removed at the end; keep it with --dir DIR)'}`);
    out();
    out('1. A GPT disk image with two /usr slots, made with our own GPT code (no sgdisk, no root)');
    await lab.setUp();
    out(`   ${relative(dir, lab.disk)}: USR-A holds version 1.0.0; USR-B is empty`);
    for (const l of slotTable(await lab.slots(), lab.slotVersions)) out(l);
    if (wholeOs) {
      await mkdir(`${dir}/boot`, { recursive: true });
      await makeDemoEsp(lab.disk, fakeKernel('1.0.0', 3 * MiB), dir);
      out("   the ESP (partition 1, FAT32 made with mkfs.vfat) holds the running slot's kernel:");
      for (const l of await listKernels(lab.disk)) out(`     ${l}`);
    } else if (missing !== 'raw') {
      out(`   (raw images: the whole-OS demo with kernels and /postinst needs ${missing === 'root' ? 'root' : `"${missing}"`})`);
    }
    out();
    out(`2. A payload for version 2.0.0: ${imageMiB} MiB image, signed with the TEST-ONLY key ${relative(process.cwd(), TEST_PRIVATE_KEY)}`);
    const madeStart = performance.now();
    let imagePath: string | undefined;
    if (wholeOs) {
      const tree = `${dir}/rootfs-2.0.0`;
      await rm(tree, { recursive: true, force: true });
      await makeRootfs(tree, '2.0.0', fakeKernel('2.0.0', 4 * MiB), imageMiB * MiB);
      imagePath = `${lab.payloadDir}/image-2.0.0.squashfs`;
      await buildRootfsImage(tree, imagePath);
      await rm(tree, { recursive: true, force: true });
      out(`   built from a rootfs tree with /boot/vmlinuz (2.0.0) and /postinst into squashfs (update-engine payload create --image DIR)`);
    }
    const payload = await lab.addPayload('2.0.0', imagePath ? { imagePath } : {});
    const payloadBytes = (await stat(payload.path)).size;
    out(`   ${relative(dir, payload.path)}: ${(payloadBytes / MiB).toFixed(1)} MiB, made in ${((performance.now() - madeStart) / 1000).toFixed(2)} s`);
    out();
    const server = await lab.serve();
    out(`3. A development Omaha server (update-engine serve) on ${server.updateUrl}`);
    out();
    out(
      `4. The daemon's update cycle: check -> download + verify + write -> ${wholeOs ? 'post-install (kernel to the ESP, /postinst) -> ' : ''}flip (update-engine daemon --once)`,
    );
    const view = createStatusView(ctx.stdout);
    let cycleStart = 0;
    const onEngine = (engine: UpdateEngine) => {
      engine.machine.onChange((s) => {
        if (s.status === 'UPDATE_STATUS_DOWNLOADING' && cycleStart === 0) cycleStart = performance.now();
        view.show(s);
      });
    };
    const daemonOptions = { once: true, logger, signal: ctx.signal, identityPaths: lab.identityPaths(), transportOptions: { systemCaBundles: [], env: {} } };
    const t0 = performance.now();
    await runDaemon(lab.settings({ kernelDir }), { ...daemonOptions, onEngine });
    view.stop();
    const cycleMs = performance.now() - (cycleStart || t0);
    out(
      `   installed 2.0.0 on USR-B: ${imageMiB} MiB verified and written in ${(cycleMs / 1000).toFixed(2)} s (${(imageMiB / (cycleMs / 1000)).toFixed(0)} MiB/s); REBOOT_STRATEGY=off, so no reboot command`,
    );
    for (const l of slotTable(await lab.slots(), new Map([...lab.slotVersions, [4, '2.0.0']]))) out(l);
    if (wholeOs) {
      out("   the ESP after the post-install step: the new slot's kernel beside the untouched running one");
      for (const l of await listKernels(lab.disk)) out(`     ${l}`);
    }
    out();
    out("5. Reboot: the boot simulator does what GRUB's gptprio.next does");
    const choice = await lab.reboot();
    out(`   booted partition ${choice.partition} (${choice.label}); its one try is used up (tries ${choice.tries})`);
    out();
    out('6. The post-boot cycle on the new slot: health check -> mark good -> report 3/2 to the server');
    await runDaemon(lab.settings({ kernelDir }), daemonOptions);
    for (const l of slotTable(await lab.slots(), lab.slotVersions)) out(l);
    out();
    out('7. Events the server received (eventtype/eventresult):');
    out(`   ${lab.events.map((e) => `${e.eventtype}/${e.eventresult}${e.previousversion ? ` (previousversion ${e.previousversion})` : ''}`).join(', ')}`);
    out();
    const wallS = (performance.now() - wallStart) / 1000;
    out(
      `Summary: updated 1.0.0 -> 2.0.0; ${(payloadBytes / MiB).toFixed(1)} MiB payload applied at ${(imageMiB / (cycleMs / 1000)).toFixed(0)} MiB/s; demo wall time ${wallS.toFixed(1)} s.`,
    );
    return 0;
  } finally {
    await lab.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
};
