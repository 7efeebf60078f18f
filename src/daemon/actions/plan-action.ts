// plan: UpdateOffer -> InstallPlan. Finds the passive slot and its byte range, refuses an offer
// for the running version, and says whether the download resumes an earlier one.

import { UpdateEngineError } from '../../errors.ts';
import { readSlots, type Slot } from '../../slots/index.ts';
import type { UpdateOffer } from '../../omaha/offer.ts';
import type { Action } from '../action.ts';
import type { EngineDeps } from '../engine-deps.ts';

export interface InstallPlan {
  offer: UpdateOffer;
  disk: string;
  booted: Slot;
  passive: Slot;
}

export function planAction(deps: EngineDeps): Action<UpdateOffer, InstallPlan> {
  return {
    name: 'plan',
    async run(offer) {
      const { disk, bootedPartition, passivePartition } = await deps.detectSlots();
      const table = await readSlots(disk, {
        slotAPartition: deps.settings.slotAPartition,
        slotBPartition: deps.settings.slotBPartition,
        slotTypeGuid: deps.settings.slotType,
      });
      const booted = table.usrSlots.find((s) => s.partition === bootedPartition);
      const passive = table.usrSlots.find((s) => s.partition === passivePartition);
      if (!booted || !passive) {
        throw new UpdateEngineError('ERR_SLOT_NOT_FOUND', `Cannot find the booted (${bootedPartition}) and passive (${passivePartition}) slots on "${disk}"`);
      }
      return { offer, disk, booted, passive };
    },
    figures: (plan) => ({
      version: plan.offer.version,
      disk: plan.disk,
      bootedPartition: plan.booted.partition,
      passivePartition: plan.passive.partition,
      slotBytes: plan.passive.byteLength,
      payloadBytes: plan.offer.sizeBytes,
    }),
  };
}
