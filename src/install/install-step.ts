// The post-install step between "verified" and "flip" (update_engine's PostinstallRunnerAction):
// mount the new slot read-only in a private namespace, copy its kernel to KERNEL_DIR/vmlinuz-<slot>,
// run its /postinst, unmount. Any failure is ERR_POSTINSTALL (Omaha 5) and removes the new kernel.

import { mkdir, stat } from 'node:fs/promises';
import { UpdateEngineError } from '../errors.ts';
import type { Logger } from '../platform/logger.ts';
import { prepareEsp, type EspMount } from './esp.ts';
import { probeFilesystem, type SlotFilesystem } from './fs-magic.ts';
import { resolveInImage } from './image-path.ts';
import { copyKernel, removeKernel, type KernelCopy, type KernelCopyHooks } from './kernel-copy.ts';
import { MountNamespace } from './mount-namespace.ts';
import { runPostinst, type PostinstResult } from './postinst-runner.ts';
import { mountSlot, unmountSlot, type SlotRange } from './slot-mount.ts';

/** update_engine's name and place of the post-install program in the new image. */
export const POSTINST_PATH = '/postinst';

export interface InstallStepSettings {
  kernelPath: string;
  kernelDir: string;
  postinstall: boolean;
  postinstallTimeoutMs: number;
  /** Volatile directory for the slot's mount point. */
  runDir: string;
}

export interface InstallStepInput {
  slot: SlotRange;
  letter: 'a' | 'b';
  version: string;
  settings: InstallStepSettings;
  signal: AbortSignal;
  logger: Logger;
  hooks?: { kernel?: KernelCopyHooks; onPostinstLine?(stream: 'stdout' | 'stderr', line: string): void } | undefined;
}

export interface InstallReport {
  filesystem: SlotFilesystem | 'none';
  kernel?: KernelCopy | undefined;
  postinst: 'ran' | 'absent' | 'disabled' | 'not-executable' | 'skipped';
  postinstResult?: PostinstResult;
  durationMs: number;
}

const fail = (message: string, cause?: unknown) => new UpdateEngineError('ERR_POSTINSTALL', message, cause === undefined ? {} : { cause });

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new UpdateEngineError('ERR_ABORTED', 'The post-install step was cancelled', { cause: signal.reason });
}

export async function runInstallStep(input: InstallStepInput): Promise<InstallReport> {
  const { slot, letter, settings, logger, signal } = input;
  const startedMs = performance.now();
  const report = (r: Omit<InstallReport, 'durationMs'>): InstallReport => ({ ...r, durationMs: Math.round(performance.now() - startedMs) });
  const filesystem = await probeFilesystem(slot.disk, slot.byteOffset, slot.byteLength).catch((e: unknown) => {
    throw fail(`Cannot read the new slot (partition ${slot.partition} of "${slot.disk}") to find its filesystem: ${(e as Error).message}`, e);
  });
  if (!filesystem) {
    logger.info({ partition: slot.partition }, 'The new slot holds no filesystem known here (raw image): no kernel copy, no postinst');
    return report({ filesystem: 'none', postinst: 'skipped' });
  }
  const ns = await MountNamespace.create().catch((e: unknown) => {
    throw fail(`Cannot mount the new slot (${filesystem}) in a private mount namespace: ${(e as Error).message}`, e);
  });
  const mountPoint = `${settings.runDir}/postinstall/slot`;
  let mounted = false;
  let esp: EspMount | undefined;
  let kernelHostDir: string | undefined;
  let kernelStarted = false;
  try {
    await mkdir(mountPoint, { recursive: true });
    const m = await mountSlot(ns, slot, filesystem, mountPoint);
    mounted = true;
    logger.info({ filesystem, device: m.device, mountPoint }, 'New slot mounted read-only in a private mount namespace');
    const imageRoot = ns.hostPath(mountPoint);
    checkAbort(signal);
    let kernel: KernelCopy | undefined;
    const kernelSource = await resolveInImage(imageRoot, settings.kernelPath);
    const kernelStats = kernelSource === undefined ? undefined : await stat(kernelSource).catch(() => undefined);
    if (kernelSource && kernelStats?.isFile()) {
      esp = await prepareEsp(ns, settings.kernelDir, slot.disk);
      kernelHostDir = ns.hostPath(settings.kernelDir);
      await mkdir(kernelHostDir, { recursive: true });
      kernelStarted = true;
      kernel = await copyKernel(kernelSource, kernelHostDir, letter, input.hooks?.kernel);
      logger.info(
        {
          esp: esp.kind,
          espMount: esp.mountPoint,
          espFs: esp.fsType,
          file: `${settings.kernelDir}/vmlinuz-${letter}`,
          bytes: kernel.bytes,
          sha256: kernel.sha256Hex,
        },
        'Kernel copied to the EFI system partition',
      );
    } else {
      logger.info({ kernelPath: settings.kernelPath }, 'The new image holds no kernel at KERNEL_PATH: the ESP is left as it is');
    }
    checkAbort(signal);
    const base = { filesystem, kernel };
    if (!settings.postinstall) {
      logger.info("POSTINSTALL=false: the new image's /postinst is not run");
      return report({ ...base, postinst: 'disabled' });
    }
    const program = await resolveInImage(imageRoot, POSTINST_PATH);
    const programStats = program === undefined ? undefined : await stat(program).catch(() => undefined);
    if (program === undefined || !programStats?.isFile()) {
      logger.info('The new image holds no /postinst');
      return report({ ...base, postinst: 'absent' });
    }
    if ((programStats.mode & 0o111) === 0) {
      logger.warn("The new image's /postinst is not executable: not run");
      return report({ ...base, postinst: 'not-executable' });
    }
    const inNamespace = program.slice(`/proc/${ns.pid}/root`.length);
    const result = await runPostinst(ns, {
      program: inNamespace,
      device: m.device,
      env: {
        UPDATE_ENGINE_SLOT: letter.toUpperCase(),
        UPDATE_ENGINE_NEW_VERSION: input.version,
        UPDATE_ENGINE_SLOT_MOUNT: mountPoint,
        UPDATE_ENGINE_KERNEL_DIR: settings.kernelDir,
      },
      timeoutMs: settings.postinstallTimeoutMs,
      signal,
      logger,
      onLine: input.hooks?.onPostinstLine,
    });
    const figures = {
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      outputBytes: result.outputBytes,
      lines: result.lines,
      linesLogged: result.linesLogged,
    };
    if (result.aborted) throw new UpdateEngineError('ERR_ABORTED', 'The post-install step was cancelled while /postinst ran');
    if (result.timedOut) throw fail(`The new image's /postinst did not finish within POSTINSTALL_TIMEOUT (${settings.postinstallTimeoutMs} ms) and was killed`);
    if (result.exitCode !== 0)
      throw fail(`The new image's /postinst failed: ${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`}`);
    logger.info(figures, "The new image's /postinst succeeded");
    return report({ ...base, postinst: 'ran', postinstResult: result });
  } catch (e) {
    if (kernelStarted && kernelHostDir) {
      const removed = await removeKernel(kernelHostDir, letter).catch((r: unknown) => {
        logger.error({ err: r }, "Cannot remove the new slot's kernel after the failed step");
        return [];
      });
      if (removed.length > 0)
        logger.info({ removed: removed.map((p) => p.slice(`/proc/${ns.pid}/root`.length)) }, 'New kernel removed: the slot will not be flipped');
    }
    if (e instanceof UpdateEngineError) throw e;
    throw fail(`The post-install step failed: ${(e as Error).message}`, e);
  } finally {
    if (esp) await esp.release().catch((e: unknown) => logger.warn({ err: e }, 'Cannot unmount the ESP (the namespace ends anyway)'));
    if (mounted) await unmountSlot(ns, mountPoint).catch((e: unknown) => logger.warn({ err: e }, 'Cannot unmount the new slot (the namespace ends anyway)'));
    await ns.close();
  }
}
