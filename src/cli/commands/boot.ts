// update-engine boot install-config: writes a boot backend's configuration onto an ESP (the grub.cfg
// fragment and the GRUB environment block, or systemd-boot's loader.conf and one BLS entry per slot).

import { installBootConfig, defaultSlots } from '../../boot/boot-config.ts';
import { DirEsp } from '../../boot/esp.ts';
import { slotBoots } from '../../boot/mirrored-backend.ts';
import { listUsrSlots } from '../../slots/index.ts';
import { parseCommandLine, println, usageError, type Command } from '../run.ts';

const HELP = `Usage: update-engine boot install-config --backend grubenv|bls --esp DIR [options]

Writes what the firmware's bootloader needs to choose between the A and B slots onto the EFI
system partition mounted at DIR (BOOT_BACKEND=grubenv or bls; gptprio needs nothing on the ESP):
  grubenv  DIR/update-engine/grub.cfg (a fragment for stock GRUB: "configfile" or "source" it from
           your grub.cfg) and DIR/update-engine/grubenv (the 1024-byte environment block it reads)
  bls      DIR/loader/loader.conf and DIR/loader/entries/update-engine-<priority>-<a|b>[+tries].conf
           (systemd-boot with boot counting), one entry per slot with that slot's kernel
The kernels themselves are vmlinuz-a and vmlinuz-b in --kernel-dir on the ESP.

Options:
  --backend NAME       grubenv or bls
  --esp DIR            where the ESP is mounted
  --kernel-dir PATH    where the kernels are, as a path on the ESP (default /flatcar)
  --initrd             also load initrd-a / initrd-b from --kernel-dir
  --cmdline TEXT       extra kernel command line (after mount.usr=PARTLABEL=USR-X ue.slot=X)
  --timeout SECONDS    how long the menu shows (default 0)
  --disk DISK          start from the slots' GPT boot bits on DISK (default: A good, B off)
  -h, --help           show this help`;

export const run: Command = async (argv, ctx) => {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help' || sub === undefined) {
    println(ctx.stdout, HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'install-config') throw usageError(`Unknown boot command "${sub}"; try "update-engine boot install-config --help"`);
  const { values } = parseCommandLine(rest, {
    backend: { type: 'string' },
    esp: { type: 'string' },
    'kernel-dir': { type: 'string' },
    initrd: { type: 'boolean' },
    cmdline: { type: 'string' },
    timeout: { type: 'string' },
    disk: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const backend = values.backend;
  if (backend !== 'grubenv' && backend !== 'bls') throw usageError(`--backend must be grubenv or bls, got "${backend ?? ''}"`);
  if (!values.esp) throw usageError('boot install-config needs --esp DIR');
  const esp = new DirEsp(values.esp);
  if (!(await esp.exists())) throw usageError(`The ESP directory "${values.esp}" does not exist`);
  const timeout = values.timeout ?? '0';
  if (!/^\d{1,4}$/.test(timeout)) throw usageError(`--timeout must be a whole number of seconds, got "${timeout}"`);
  const kernelDir = values['kernel-dir'] ?? '/flatcar';
  if (!kernelDir.startsWith('/') || kernelDir.includes('..') || /\s/.test(kernelDir))
    throw usageError(`--kernel-dir must be an absolute path on the ESP without spaces, got "${kernelDir}"`);
  const cmdline = values.cmdline ?? '';
  if (/[\n"$;\\]/.test(cmdline)) throw usageError('--cmdline must not contain newlines, quotes, "$", ";" or backslashes');
  const slots = values.disk ? slotBoots(await listUsrSlots(values.disk), { slotAPartition: 3, slotBPartition: 4 }) : defaultSlots();
  const written = await installBootConfig(esp, backend, { kernelDir, initrd: values.initrd === true, cmdline, slots, timeoutSeconds: Number(timeout) });
  for (const path of written) println(ctx.stdout, `wrote ${values.esp.replace(/\/+$/, '')}${path}`);
  return 0;
};
