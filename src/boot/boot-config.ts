// What `update-engine boot install-config` puts on the ESP: for grubenv the grub.cfg fragment and the
// environment block; for bls loader.conf and one entry per slot with that slot's kernel. The texts
// are pure functions; installBootConfig writes them through an Esp.

import type { BootBackendName, SlotBoot } from './boot-backend.ts';
import { BLS_ENTRIES_DIR, blsNameFor, formatBlsName } from './bls-store.ts';
import type { Esp } from './esp.ts';
import { encodeGrubenv } from './grubenv-block.ts';
import { GRUB_FRAGMENT_PATH, GRUBENV_PATH, grubenvVars } from './grubenv-store.ts';

export interface BootConfigOptions {
  /** Where the kernels are on the ESP (vmlinuz-a, vmlinuz-b; initrd-a/-b with `initrd`). */
  kernelDir: string;
  /** Also load initrd-a / initrd-b from kernelDir. */
  initrd: boolean;
  /** Extra kernel command line (console=ttyS0 ...). */
  cmdline: string;
  /** The slots' states to start from (default: A good and first, B off). */
  slots: SlotBoot[];
  /** Seconds the menu shows (0: boot at once). */
  timeoutSeconds: number;
}

export const defaultSlots = (a = 3, b = 4): SlotBoot[] => [
  { letter: 'A', partition: a, priority: 1, tries: 0, successful: true },
  { letter: 'B', partition: b, priority: 0, tries: 0, successful: false },
];

const cmdlineFor = (letter: string, extra: string): string => `mount.usr=PARTLABEL=USR-${letter} ue.slot=${letter}${extra.trim() ? ` ${extra.trim()}` : ''}`;
const kernelPath = (dir: string, name: string): string => `${dir.replace(/\/+$/, '')}/${name}`;

/** The grub.cfg fragment (GRUB script; stock GRUB, no gptprio module). */
export function grubFragment(o: BootConfigOptions): string {
  const slot = (l: 'A' | 'B') => {
    const lower = l.toLowerCase();
    return [
      `  if [ "$ue_slot" = "${l}" ]; then`,
      `    linux ${kernelPath(o.kernelDir, `vmlinuz-${lower}`)} ${cmdlineFor(l, o.cmdline)}`,
      ...(o.initrd ? [`    initrd ${kernelPath(o.kernelDir, `initrd-${lower}`)}`] : []),
      '  fi',
    ];
  };
  return [
    '# update-engine: A/B slot selection from the GRUB environment block (BOOT_BACKEND=grubenv).',
    '# Written by "update-engine boot install-config"; the engine rewrites only the environment block.',
    '# UE_ORDER: slots to consider, first wins. X_OK=1: good. X_OK=0, X_TRY=1: one try, spent',
    '# (saved) before the kernel starts. Defaults apply when the block cannot be read: A then B.',
    `set timeout=${o.timeoutSeconds}`,
    'set default=0',
    'set UE_ORDER="A B"',
    'set A_OK=1',
    'set A_TRY=0',
    'set B_OK=1',
    'set B_TRY=0',
    `set ue_env="($root)${GRUBENV_PATH}"`,
    'load_env --file "$ue_env" UE_ORDER A_OK A_TRY B_OK B_TRY',
    'set ue_slot=""',
    'for ue_s in $UE_ORDER; do',
    '  if [ "$ue_s" = "A" ]; then ue_ok="$A_OK"; ue_try="$A_TRY"; fi',
    '  if [ "$ue_s" = "B" ]; then ue_ok="$B_OK"; ue_try="$B_TRY"; fi',
    '  if [ "$ue_ok" = "1" ]; then ue_slot="$ue_s"; break; fi',
    '  if [ "$ue_try" = "1" ]; then',
    '    ue_slot="$ue_s"',
    '    if [ "$ue_s" = "A" ]; then A_TRY=0; fi',
    '    if [ "$ue_s" = "B" ]; then B_TRY=0; fi',
    '    save_env --file "$ue_env" A_TRY B_TRY',
    '    break',
    '  fi',
    'done',
    '# Nothing bootable in the order (both spent): boot A rather than nothing.',
    'if [ -z "$ue_slot" ]; then ue_slot=A; fi',
    'menuentry "update-engine USR-$ue_slot" {',
    ...slot('A'),
    ...slot('B'),
    '}',
    '',
  ].join('\n');
}

/** The BLS entry (type #1) of one slot. */
export function blsEntry(letter: 'A' | 'B', o: BootConfigOptions): string {
  const lower = letter.toLowerCase();
  return [
    `title update-engine USR-${letter}`,
    `linux ${kernelPath(o.kernelDir, `vmlinuz-${lower}`)}`,
    ...(o.initrd ? [`initrd ${kernelPath(o.kernelDir, `initrd-${lower}`)}`] : []),
    `options ${cmdlineFor(letter, o.cmdline)}`,
    '',
  ].join('\n');
}

/** Writes the backend's configuration onto the ESP; returns the paths written. */
export async function installBootConfig(esp: Esp, backend: Exclude<BootBackendName, 'gptprio'>, o: BootConfigOptions): Promise<string[]> {
  if (backend === 'grubenv') {
    await esp.write(GRUB_FRAGMENT_PATH, grubFragment(o));
    await esp.write(GRUBENV_PATH, encodeGrubenv(grubenvVars(o.slots)));
    return [GRUB_FRAGMENT_PATH, GRUBENV_PATH];
  }
  const written = ['/loader/loader.conf'];
  await esp.write('/loader/loader.conf', `timeout ${o.timeoutSeconds}\n`);
  const existing = await esp.list(BLS_ENTRIES_DIR);
  for (const s of o.slots) {
    const lower = s.letter.toLowerCase();
    const name = formatBlsName(blsNameFor(s));
    for (const old of existing.filter((f) => f.startsWith('update-engine-') && new RegExp(`^update-engine-\\d+-${lower}[+.]`).test(f) && f !== name)) {
      await esp.rename(`${BLS_ENTRIES_DIR}/${old}`, `${BLS_ENTRIES_DIR}/${name}`);
    }
    await esp.write(`${BLS_ENTRIES_DIR}/${name}`, blsEntry(s.letter, o));
    written.push(`${BLS_ENTRIES_DIR}/${name}`);
  }
  return written;
}
