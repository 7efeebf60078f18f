// One BootBackend for every scheme: each operation edits the GPT boot bits as before (so `slots show`
// and cgpt stay true), then writes the same three fields per slot into the loader's own state through
// a LoaderStore (nothing for gptprio, grubenv, BLS entry names). Reading back goes the other way.

import { UpdateEngineError } from '../errors.ts';
import {
  detectBootedSlot,
  disableSlot,
  markGood,
  prepareForTry,
  restoreBooted,
  type DetectedSlot,
  type DetectSlotInput,
  type DiskSlots,
  type Slot,
  type SlotPartitions,
} from '../slots/index.ts';
import type { GptWriteStep } from '../slots/index.ts';
import { overlay, type BootBackend, type BootBackendName, type BootCheck, type BootWriteHooks, type SlotBoot } from './boot-backend.ts';
import type { Esp } from './esp.ts';

/** A scheme's own state on the ESP. */
export interface LoaderStore {
  readonly name: BootBackendName;
  /** Writes the state for `slots`; each single write calls hooks.afterWrite (crash points). */
  write(esp: Esp, slots: readonly SlotBoot[], hooks: BootWriteHooks, firstIndex: number): Promise<void>;
  /** The state as the bootloader left it; throws ERR_BOOT_CONFIG when it is missing or unreadable. */
  read(esp: Esp, partitions: SlotPartitions): Promise<SlotBoot[]>;
  /** What `doctor` checks on the ESP. */
  check(esp: Esp, partitions: SlotPartitions): Promise<BootCheck[]>;
  /** The slot the bootloader says it started (from EFI variables), when it says so. */
  firmwareBootedSlot?(efivarsDir: string): Promise<'A' | 'B' | undefined>;
}

export const EFIVARS_DIR = '/sys/firmware/efi/efivars';

/** The two configured slots of a GPT view as loader states. */
export function slotBoots(view: DiskSlots, partitions: SlotPartitions): SlotBoot[] {
  const pick = (letter: 'A' | 'B', partition: number): SlotBoot => {
    const s = view.usrSlots.find((x) => x.partition === partition);
    if (!s) throw new UpdateEngineError('ERR_SLOT_NOT_FOUND', `Slot ${letter} (partition ${partition}) is not a /usr slot on "${view.disk}"`);
    return { letter, partition, priority: s.priority, tries: s.tries, successful: s.successful };
  };
  return [pick('A', partitions.slotAPartition), pick('B', partitions.slotBPartition)];
}

export class MirroredBackend implements BootBackend {
  constructor(
    private readonly partitions: SlotPartitions,
    private readonly loader: LoaderStore | undefined,
    private readonly espFor: (disk: string) => Promise<Esp>,
    private readonly efivarsDir = EFIVARS_DIR,
    /** SLOT_TYPE: the partition type GUID a slot must have (default the /usr type). */
    private readonly gpt: { slotTypeGuid?: string } = {},
  ) {}

  get name(): BootBackendName {
    return this.loader?.name ?? 'gptprio';
  }

  private async mirror(
    disk: string,
    gptEdit: (hooks: { afterWrite(step: GptWriteStep, i: number): Promise<void> }) => Promise<DiskSlots>,
    hooks: BootWriteHooks = {},
  ): Promise<void> {
    let count = 0;
    const view = await gptEdit({
      afterWrite: async (step) => {
        await hooks.afterWrite?.(`gpt ${step}`, count);
        count += 1;
      },
    });
    if (!this.loader) return;
    await this.loader.write(await this.espFor(disk), slotBoots(view, this.partitions), hooks, count);
  }

  prepareForTry(disk: string, partition: number, hooks?: BootWriteHooks): Promise<void> {
    return this.mirror(disk, (h) => prepareForTry(disk, partition, { ...this.gpt, hooks: h }), hooks);
  }

  markGood(disk: string, partition: number): Promise<void> {
    return this.mirror(disk, (h) => markGood(disk, partition, { ...this.gpt, hooks: h }));
  }

  reset(disk: string, booted: number, passive: number): Promise<void> {
    return this.mirror(disk, (h) => restoreBooted(disk, booted, passive, { ...this.gpt, hooks: h }));
  }

  disable(disk: string, partition: number): Promise<void> {
    return this.mirror(disk, (h) => disableSlot(disk, partition, { ...this.gpt, hooks: h }));
  }

  async bootView(disk: string, slots: readonly Slot[]): Promise<Slot[]> {
    if (!this.loader) return slots.map((s) => ({ ...s }));
    return overlay(slots, await this.loader.read(await this.espFor(disk), this.partitions));
  }

  async bootedSlot(input: DetectSlotInput): Promise<DetectedSlot> {
    try {
      return await detectBootedSlot(input);
    } catch (e) {
      const letter = input.disk !== undefined ? await this.loader?.firmwareBootedSlot?.(this.efivarsDir) : undefined;
      if (letter === undefined || input.disk === undefined) throw e;
      const { slotAPartition: a, slotBPartition: b } = this.partitions;
      const booted = letter === 'A' ? a : b;
      return {
        disk: input.disk,
        bootedPartition: booted,
        passivePartition: booted === a ? b : a,
        source: `${this.name} boot loader (EFI variable LoaderEntrySelected)`,
      };
    }
  }

  async describe(disk: string): Promise<BootCheck[]> {
    const head: BootCheck = {
      ok: true,
      message: `Boot backend ${this.name}${this.loader ? '' : ' (GPT priority/tries/successful, read by a gptprio-capable GRUB)'}`,
    };
    if (!this.loader) return [head];
    let esp: Esp;
    try {
      esp = await this.espFor(disk);
    } catch (e) {
      return [head, { ok: false, message: (e as Error).message }];
    }
    return [{ ...head, message: `${head.message}, ESP at ${esp.where}` }, ...(await this.loader.check(esp, this.partitions))];
  }
}
