// postinstall: AppliedImage -> AppliedImage. After the slot is written and read back, before the
// flip: the new slot's kernel onto the ESP and its /postinst (src/install). A failure is
// ERR_POSTINSTALL (Omaha 5): the chain stops before finalize, so nothing is flipped.

import { UpdateEngineError } from '../../errors.ts';
import { runInstallStep, type InstallReport, type InstallStepInput } from '../../install/install-step.ts';
import type { Action } from '../action.ts';
import type { EngineDeps } from '../engine-deps.ts';
import type { AppliedImage } from './apply-action.ts';

/** The slot letter of a partition: a for SLOT_A_PARTITION, b for SLOT_B_PARTITION (else by label). */
export function slotLetter(partition: number, label: string, settings: { slotAPartition: number; slotBPartition: number }): 'a' | 'b' {
  if (partition === settings.slotAPartition) return 'a';
  if (partition === settings.slotBPartition) return 'b';
  if (label === 'USR-A') return 'a';
  if (label === 'USR-B') return 'b';
  throw new UpdateEngineError('ERR_POSTINSTALL', `Partition ${partition} ("${label}") is neither SLOT_A_PARTITION nor SLOT_B_PARTITION: no kernel name for it`);
}

export function installAction(deps: EngineDeps, hooks?: InstallStepInput['hooks']): Action<AppliedImage, AppliedImage> {
  let last: InstallReport | undefined;
  return {
    name: 'postinstall',
    async run(applied, ctx) {
      const { plan } = applied;
      const { settings } = deps;
      last = await runInstallStep({
        slot: { disk: plan.disk, partition: plan.passive.partition, byteOffset: plan.passive.byteOffset, byteLength: plan.passive.byteLength },
        letter: slotLetter(plan.passive.partition, plan.passive.label, settings),
        version: applied.result.manifest.version,
        settings,
        signal: ctx.signal,
        logger: ctx.logger,
        hooks,
      });
      deps.metrics?.phase('postinstall', last.durationMs / 1000);
      return applied;
    },
    figures: () => ({
      filesystem: last?.filesystem ?? 'none',
      kernelBytes: last?.kernel?.bytes ?? 0,
      postinst: last?.postinst ?? 'skipped',
      stepMs: last?.durationMs ?? 0,
    }),
  };
}
