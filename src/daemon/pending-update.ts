// The pending update (applied and flipped, waiting for a reboot) is dropped one way: from the state
// by withoutPendingUpdate(); with its flip (through the boot backend) and the need-reboot marker by
// undoPendingUpdate().

import { bootBackendOf, type EngineDeps } from './engine-deps.ts';

/** The state without its pending update (the one way it is dropped from the state). */
export function withoutPendingUpdate<T extends { pendingUpdate?: unknown }>(state: T): T {
  const next = { ...state };
  delete next.pendingUpdate;
  return next;
}

/** Undoes a pending update's flip: the booted slot boots next again, no reboot is needed, the state forgets it. */
export async function undoPendingUpdate(
  deps: Pick<EngineDeps, 'state' | 'needReboot' | 'settings' | 'boot'>,
  disk: string,
  booted: number,
  pendingPartition: number,
): Promise<void> {
  await bootBackendOf(deps).reset(disk, booted, pendingPartition);
  await deps.needReboot.clear();
  await deps.state.update(withoutPendingUpdate);
}
