// The BootBackend port: how the engine tells the firmware's bootloader which slot to boot (a try for
// a new slot, mark good, undo) and how it reads back what the bootloader did. One adapter per scheme:
// gptprio (GPT bits), grubenv (GRUB environment block), bls (systemd-boot entries with boot counting).

import type { DetectedSlot, DetectSlotInput, Slot } from '../slots/index.ts';

export const BOOT_BACKENDS = ['gptprio', 'grubenv', 'bls'] as const;
export type BootBackendName = (typeof BOOT_BACKENDS)[number];

/** One slot's boot state as a bootloader holds it (the same three fields as the GPT bits). */
export interface SlotBoot {
  letter: 'A' | 'B';
  partition: number;
  /** 0 = never boot; higher wins. */
  priority: number;
  /** Boot attempts left for an unconfirmed slot. */
  tries: number;
  successful: boolean;
}

/** Called after each individual write of a flip (crash injection in tests). */
export interface BootWriteHooks {
  afterWrite?(step: string, index: number): void | Promise<void>;
}

/** One line of `doctor`: fine, or what to fix. */
export interface BootCheck {
  ok: boolean;
  message: string;
}

export interface BootBackend {
  readonly name: BootBackendName;
  /** The flip after installing into `partition`: one try, top priority. The commit point of an update. */
  prepareForTry(disk: string, partition: number, hooks?: BootWriteHooks): Promise<void>;
  /** After a healthy boot on `partition`: successful, no tries left, top priority. */
  markGood(disk: string, partition: number): Promise<void>;
  /** Undoes a flip: `passive` never booted, `booted` back on top. */
  reset(disk: string, booted: number, passive: number): Promise<void>;
  /** Takes `partition` out of the boot order (before writing into it, after a failed update). */
  disable(disk: string, partition: number): Promise<void>;
  /**
   * The slots with priority, tries and successful as the bootloader sees them (the GPT bits for
   * gptprio; the loader's own state otherwise, which stock loaders change without touching the GPT).
   */
  bootView(disk: string, slots: readonly Slot[]): Promise<Slot[]>;
  /**
   * The booted and the passive slot: DISK/BOOTED_PARTITION, the kernel command line and mounts
   * (src/slots/booted-slot-detection.ts), then what the bootloader itself recorded (bls: systemd-boot's
   * LoaderEntrySelected EFI variable).
   */
  bootedSlot(input: DetectSlotInput): Promise<DetectedSlot>;
  /** What `doctor` reports: the backend, and whether the ESP holds what the bootloader needs. */
  describe(disk: string): Promise<BootCheck[]>;
}

/** `slots` with the boot fields of `states` laid over them (slots without a state unchanged). */
export function overlay(slots: readonly Slot[], states: readonly SlotBoot[]): Slot[] {
  return slots.map((s) => {
    const st = states.find((b) => b.partition === s.partition);
    return st ? { ...s, priority: st.priority, tries: st.tries, successful: st.successful } : { ...s };
  });
}
