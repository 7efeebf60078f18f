// The grubenv scheme's state (RAUC's and Mender's: an order, per-slot ok and try flags) in the GRUB
// environment block on the ESP that the project's grub.cfg fragment reads. UE_ORDER lists the slots
// with priority > 0, highest first; X_OK = successful; X_TRY = 1 while an unconfirmed slot has its try.

import { UpdateEngineError } from '../errors.ts';
import type { SlotPartitions } from '../slots/index.ts';
import type { BootCheck, BootWriteHooks, SlotBoot } from './boot-backend.ts';
import type { Esp } from './esp.ts';
import { encodeGrubenv, parseGrubenv, GRUBENV_SIZE } from './grubenv-block.ts';
import type { LoaderStore } from './mirrored-backend.ts';

export const GRUBENV_PATH = '/update-engine/grubenv';
export const GRUB_FRAGMENT_PATH = '/update-engine/grub.cfg';

/** The variables for `slots` (pure). GRUB script has no arithmetic, so a try is a flag: tries > 0 -> 1. */
export function grubenvVars(slots: readonly SlotBoot[]): Map<string, string> {
  const order = slots
    .filter((s) => s.priority > 0)
    .sort((a, b) => b.priority - a.priority || a.partition - b.partition)
    .map((s) => s.letter);
  const vars = new Map<string, string>([['UE_ORDER', order.join(' ')]]);
  for (const s of [...slots].sort((a, b) => a.letter.localeCompare(b.letter))) {
    vars.set(`${s.letter}_OK`, s.successful ? '1' : '0');
    vars.set(`${s.letter}_TRY`, !s.successful && s.tries > 0 ? '1' : '0');
  }
  return vars;
}

/** Reads slot states back from the variables (pure): the order gives the priorities, highest first. */
export function slotsFromGrubenv(vars: ReadonlyMap<string, string>, partitions: SlotPartitions): SlotBoot[] {
  const order = (vars.get('UE_ORDER') ?? '').split(/\s+/).filter((l) => l === 'A' || l === 'B');
  return (['A', 'B'] as const).map((letter) => {
    const at = order.indexOf(letter);
    return {
      letter,
      partition: letter === 'A' ? partitions.slotAPartition : partitions.slotBPartition,
      priority: at < 0 ? 0 : order.length - at,
      tries: vars.get(`${letter}_TRY`) === '1' ? 1 : 0,
      successful: vars.get(`${letter}_OK`) === '1',
    };
  });
}

export const grubenvStore: LoaderStore = {
  name: 'grubenv',
  async write(esp: Esp, slots: readonly SlotBoot[], hooks: BootWriteHooks, firstIndex: number) {
    const block = encodeGrubenv(grubenvVars(slots));
    const old = await esp.read(GRUBENV_PATH);
    if (old?.equals(block)) return;
    if (old === undefined || old.length !== GRUBENV_SIZE) {
      throw new UpdateEngineError(
        'ERR_BOOT_CONFIG',
        `The ESP at ${esp.where} has no ${GRUBENV_SIZE}-byte ${GRUBENV_PATH}; run "update-engine boot install-config --backend grubenv"`,
      );
    }
    // In place, like GRUB's save_env. All variables sit in the first sector and the second is '#'
    // padding before and after, so a write torn between the two sectors reads as the old or the new.
    await esp.overwriteInPlace(GRUBENV_PATH, block);
    await hooks.afterWrite?.('grubenv', firstIndex);
  },
  async read(esp: Esp, partitions: SlotPartitions) {
    const block = await esp.read(GRUBENV_PATH);
    const vars = block ? parseGrubenv(block) : undefined;
    if (!vars)
      throw new UpdateEngineError('ERR_BOOT_CONFIG', `${GRUBENV_PATH} on the ESP at ${esp.where} is ${block ? 'not a GRUB environment block' : 'missing'}`);
    return slotsFromGrubenv(vars, partitions);
  },
  async check(esp: Esp, partitions: SlotPartitions) {
    const checks: BootCheck[] = [];
    const fragment = await esp.read(GRUB_FRAGMENT_PATH);
    checks.push(
      fragment
        ? { ok: true, message: `${GRUB_FRAGMENT_PATH} present` }
        : {
            ok: false,
            message: `${GRUB_FRAGMENT_PATH} missing on the ESP at ${esp.where}; run "update-engine boot install-config --backend grubenv --esp DIR"`,
          },
    );
    try {
      const slots = await grubenvStore.read(esp, partitions);
      checks.push({
        ok: true,
        message: `${GRUBENV_PATH}: ${slots.map((s) => `${s.letter} priority=${s.priority} try=${s.tries} ok=${s.successful ? 1 : 0}`).join(', ')}`,
      });
    } catch (e) {
      checks.push({ ok: false, message: (e as Error).message });
    }
    return checks;
  },
};
