// What the daemon finds at start: nothing pending, a flip waiting for its reboot, a new slot that
// awaits its health check, a rollback to the old slot, or a flip that a crash cut short. Decided
// from the persisted state, the need-reboot marker and the slots' GPT attributes (GRUB semantics).

import { readSlots, type Slot } from '../slots/index.ts';
import { bootBackendOf, type EngineDeps } from './engine-deps.ts';
import type { PersistedState } from './state-store.ts';

type Pending = NonNullable<PersistedState['pendingUpdate']>;

export type BootSituation =
  /** Nothing pending: a lock we still hold is stale (Flatcar#408). */
  | { kind: 'normal'; disk: string; booted: Slot }
  /** The flip is done and the machine has not rebooted since. */
  | { kind: 'need-reboot'; disk: string; booted: Slot; pending: Pending; markerLost: boolean }
  /** Booted on a slot not yet marked good: the post-boot cycle runs the health gate. */
  | { kind: 'new-slot'; disk: string; booted: Slot; pending: Pending | undefined }
  /** Booted on the new slot, already marked good (a crash after mark-good): finish the post-boot steps. */
  | { kind: 'new-slot-good'; disk: string; booted: Slot; pending: Pending }
  /** The new slot did not stick: the machine came back on the old one. */
  | { kind: 'rolled-back'; disk: string; booted: Slot; failed: Slot | undefined; pending: Pending }
  /** A crash came before the flip: the pending record is stale. */
  | { kind: 'flip-lost'; disk: string; booted: Slot; pending: Pending };

export async function assessBoot(deps: EngineDeps): Promise<BootSituation> {
  const { disk, bootedPartition } = await deps.detectSlots();
  const table = await readSlots(disk, {
    slotAPartition: deps.settings.slotAPartition,
    slotBPartition: deps.settings.slotBPartition,
    slotTypeGuid: deps.settings.slotType,
  });
  // The slots as the bootloader left them (grubenv and bls loaders count tries outside the GPT).
  const usrSlots = await bootBackendOf(deps).bootView(disk, table.usrSlots);
  const booted = usrSlots.find((s) => s.partition === bootedPartition) as Slot;
  const state = await deps.state.read();
  const pending = state.pendingUpdate;
  if (!booted.successful) return { kind: 'new-slot', disk, booted, pending };
  if (!pending) return { kind: 'normal', disk, booted };
  const marker = await deps.needReboot.read();
  if (pending.partition === booted.partition) return { kind: 'new-slot-good', disk, booted, pending };
  const target = usrSlots.find((s) => s.partition === pending.partition);
  if (marker) return { kind: 'need-reboot', disk, booted, pending, markerLost: false };
  if (!target || target.priority === 0) return { kind: 'flip-lost', disk, booted, pending };
  // GRUB decrements tries before it boots a slot: tries still 1 means it was never tried.
  if (!target.successful && target.tries > 0 && target.priority > booted.priority) {
    return { kind: 'need-reboot', disk, booted, pending, markerLost: true };
  }
  return { kind: 'rolled-back', disk, booted, failed: target, pending };
}
