// apply: InstallPlan -> AppliedImage. Streams the payload from the offer's URLs through verification
// into the slot (resuming from a checkpoint); once the signed manifest verified, and only then, the
// caller's beforeWrite runs and the passive slot leaves the boot order, before the first byte.

import { FileCheckpointStore, applyPayload, type ApplyProgress, type ApplyResult } from '../../payload/apply.ts';
import { createHttpPayloadSource } from '../../omaha/http-payload-source.ts';
import { CredentialPolicy } from '../../omaha/credential-policy.ts';
import type { Action } from '../action.ts';
import { bootBackendOf, type EngineDeps } from '../engine-deps.ts';
import type { PayloadManifest } from '../../payload/manifest.ts';
import type { InstallPlan } from './plan-action.ts';
import type { Logger } from '../../platform/logger.ts';
import type { ClosableSeed } from '../../payload/seed-source.ts';

export interface AppliedImage {
  plan: InstallPlan;
  result: ApplyResult;
  downloadMs: number;
}

export interface ApplyHooks {
  /** After the manifest verified, before the slot is touched (may throw to stop with nothing written). */
  beforeWrite?(manifest: PayloadManifest, plan: InstallPlan): Promise<void>;
}

const PHASE_TEXT: Record<ApplyProgress['phase'], string> = {
  'indexing-seed': 'looking for local chunks in the booted slot',
  'verifying-existing': 'verifying blocks already written',
  writing: 'writing',
};

/** The booted slot as the seed (DELTA on and the deps can open one); a seed that cannot be opened only costs the delta. */
async function openSeed(deps: EngineDeps, plan: InstallPlan, logger: Logger): Promise<ClosableSeed | undefined> {
  if (!deps.settings.delta || !deps.openSeed) return undefined;
  try {
    return await deps.openSeed(plan.disk, plan.booted);
  } catch (e) {
    logger.warn({ err: e }, `Cannot open the booted slot for a delta update: fetching the whole payload (${(e as Error).message})`);
    return undefined;
  }
}

export function applyAction(deps: EngineDeps, hooks: ApplyHooks = {}): Action<InstallPlan, AppliedImage> {
  return {
    name: 'apply',
    async run(plan, ctx) {
      const { settings } = deps;
      const keyring = await deps.loadKeyring();
      const { runningBuildTimeSeconds } = await deps.state.read();
      const credentials = settings.downloadUser !== undefined ? { username: settings.downloadUser, password: settings.downloadPassword ?? '' } : undefined;
      const source = createHttpPayloadSource({
        transport: deps.transport,
        urls: plan.offer.urls,
        sizeBytes: plan.offer.sizeBytes,
        maxFailureCountPerUrl: plan.offer.maxFailureCountPerUrl,
        credentials,
        // Credentials go only to SERVER's host or DOWNLOAD_HOSTS, over https (issue 14).
        credentialPolicy: new CredentialPolicy({ server: settings.server, downloadHosts: settings.downloadHosts, credentials }),
        maxBytesPerSecond: settings.downloadBytesPerSecond,
        deadlineMs: settings.downloadTimeoutMs,
        clock: deps.clock,
        logger: ctx.logger,
      });
      const target = await deps.openTarget(plan.disk, plan.passive);
      const seed = await openSeed(deps, plan, ctx.logger);
      const startedMs = deps.clock.monotonicMs();
      let lastWritten = 0;
      const result = await applyPayload(source.open, {
        target,
        keyring,
        expect: {
          appId: settings.appId,
          board: settings.board,
          runningVersion: settings.version,
          allowDowngrade: settings.allowDowngrade,
          runningBuildTimeSeconds,
        },
        checkpoint: { store: new FileCheckpointStore(settings.stateDir, ctx.logger) },
        signal: ctx.signal,
        logger: ctx.logger,
        // Delta updates (issue 18): chunks of the new image found in the booted slot are copied, not fetched.
        seed,
        delta: settings.delta,
        readBytesPerSecond: settings.ioReadBytesPerSecond,
        payloadSizeBytes: plan.offer.sizeBytes,
        async beforeWrite(manifest) {
          await hooks.beforeWrite?.(manifest, plan);
          // Never leave a half-written slot bootable: out of the boot order before the first byte.
          await bootBackendOf(deps).disable(plan.disk, plan.passive.partition);
        },
        onProgress(p) {
          const fraction = p.imageBytesTotal > 0 ? p.imageBytesDone / p.imageBytesTotal : 0;
          ctx.progress(fraction, PHASE_TEXT[p.phase]);
          // Blocks a resumed apply finds already on the slot are verified, not written again.
          if (p.phase === 'writing') deps.metrics?.bytesWritten(Math.max(0, p.imageBytesDone - lastWritten));
          lastWritten = p.imageBytesDone;
        },
      }).finally(() => seed?.close());
      deps.metrics?.bytesDownloaded(source.stats().bytesReceived);
      deps.metrics?.bytesReused?.(result.bytesReused);
      if (result.delta || seed) {
        ctx.logger.info(
          {
            delta: result.delta,
            bytesReused: result.bytesReused,
            blocksRefetched: result.blocksRefetched,
            bytesFetched: result.payloadBytesFetched,
            payloadSizeBytes: result.payloadSizeBytes,
          },
          result.delta
            ? `Delta update: ${result.bytesReused} image bytes reused from the booted slot, ${result.payloadBytesFetched} of ${result.payloadSizeBytes} payload bytes fetched`
            : `Full update: ${result.payloadBytesFetched} payload bytes fetched`,
        );
      }
      return { plan, result, downloadMs: Math.round(deps.clock.monotonicMs() - startedMs) };
    },
    figures: ({ result, downloadMs }) => ({
      imageBytes: result.manifest.imageSize,
      payloadBytesFetched: result.payloadBytesFetched,
      bytesReused: result.bytesReused,
      delta: result.delta,
      blocksRefetched: result.blocksRefetched,
      blocksWritten: result.blocksWritten,
      resumed: result.resumed,
      signedBy: result.signedBy,
      durationMs: downloadMs,
      megabytesPerSecond: downloadMs > 0 ? Math.round((result.manifest.imageSize / 1048576 / (downloadMs / 1000)) * 10) / 10 : 0,
    }),
  };
}
