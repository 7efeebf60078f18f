// finalize: AppliedImage -> FlippedSlot. Compares what arrived with the offer (version, size,
// sha256; the apply already read every block back and compared it with its verified bytes), then
// flips the GPT: the commit point.

import { UpdateEngineError } from '../../errors.ts';
import { checkPayloadAgainstOffer } from '../../omaha/offer.ts';
import { FileCheckpointStore } from '../../payload/apply.ts';
import type { Action } from '../action.ts';
import { bootBackendOf, type EngineDeps } from '../engine-deps.ts';
import type { AppliedImage } from './apply-action.ts';

export interface FlippedSlot {
  version: string;
  disk: string;
  partition: number;
  bootedPartition: number;
  payloadSizeBytes: number;
}

export function finalizeAction(deps: EngineDeps): Action<AppliedImage, FlippedSlot> {
  return {
    name: 'finalize',
    async run({ plan, result }) {
      const { offer } = plan;
      if (result.manifest.version !== offer.version) {
        throw new UpdateEngineError('ERR_PAYLOAD_TARGET', `The payload is version "${result.manifest.version}" but the server offered "${offer.version}"`);
      }
      // After a resume the skipped bytes were not seen again, so there is no SHA-256 to compare; the
      // signed block table and the read-back comparison cover them (docs/payload-format.md).
      checkPayloadAgainstOffer(offer, { sizeBytes: result.payloadSizeBytes, sha256Base64: result.payloadSha256Base64 });
      const running = deps.settings.version;
      const nowMs = deps.clock.now();
      // Crash order: the state learns of the flip first, then the GPT flips, then the marker.
      // A restart between two of these steps is sorted out by looking at the slot's attributes.
      await deps.state.update((st) => ({
        ...st,
        pendingUpdate: {
          version: offer.version,
          sizeBytes: offer.sizeBytes,
          partition: plan.passive.partition,
          appliedAtMs: nowMs,
          // What a rollback of this update is remembered by (src/daemon/failure-memory.ts).
          imageSha256Hex: result.manifest.imageSha256,
          buildTimeSeconds: result.manifest.buildTimeSeconds,
          // A delta or resumed apply did not read the whole payload: the offer's hash still names the
          // release (its image verified block by block against the signed manifest) for the memory.
          payloadSha256Base64: result.payloadSha256Base64 ?? offer.sha256Base64,
        },
        ...(running !== undefined ? { previousVersion: running } : {}),
        failureCount: 0,
      }));
      await bootBackendOf(deps).prepareForTry(plan.disk, plan.passive.partition);
      await deps.needReboot.write({ version: offer.version, partition: plan.passive.partition, flippedAtMs: nowMs });
      await new FileCheckpointStore(deps.settings.stateDir).clear();
      return {
        version: offer.version,
        disk: plan.disk,
        partition: plan.passive.partition,
        bootedPartition: plan.booted.partition,
        payloadSizeBytes: result.payloadSizeBytes,
      };
    },
    figures: (f) => ({ version: f.version, partition: f.partition }),
  };
}
