// The crash lab's child process: loads the daemon, says "ready", takes one run spec over IPC, runs
// one daemon cycle (runDaemon --once with the real adapters from buildEngineDeps) and kills itself
// with SIGKILL at the planned event: after N image bytes, at a status, or after the n-th GPT write.

import { readlinkSync, realpathSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { settingsSchema } from '../../src/config/schema.ts';
import { buildEngineDeps, runDaemon } from '../../src/daemon/main.ts';
import { exitCodeFor, isUpdateEngineError } from '../../src/errors.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import type { ChildMessage, ChildRunSpec, ChildStats, TableRegions } from './crash-protocol.ts';
import { ObservedTarget } from './fault-target.ts';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/** The crash itself: SIGKILL to ourselves, delivered before the next line of JavaScript runs. */
function crash(): void {
  process.kill(process.pid, 'SIGKILL');
}

type WriteFn = (this: FileHandle, ...args: unknown[]) => Promise<unknown>;

/**
 * Counts GPT table writes to `disk` by wrapping FileHandle.prototype.write in this process only
 * (the slot code writes the table with handle.write; the image goes to the partitions in between).
 */
async function tapTableWrites(disk: string, regions: TableRegions, afterTableWrite: (count: number) => void): Promise<void> {
  const probe = await open(disk, 'r');
  const proto = Object.getPrototypeOf(probe) as { write: WriteFn };
  await probe.close();
  const diskPath = realpathSync(disk);
  const original = proto.write;
  let count = 0;
  proto.write = async function (this: FileHandle, ...args: unknown[]): Promise<unknown> {
    const result = await original.apply(this, args);
    const position = args[3];
    if (typeof position === 'number' && (position < regions.tableEndBytes || position >= regions.backupStartBytes)) {
      let path = '';
      try {
        path = readlinkSync(`/proc/self/fd/${this.fd}`);
      } catch {
        // a closed handle: not ours
      }
      if (path === diskPath) afterTableWrite(++count);
    }
    return result;
  };
}

async function runOnce(spec: ChildRunSpec): Promise<void> {
  const stats: ChildStats = { durationMs: 0, statuses: [], gptWrites: 0, bytesWritten: 0 };
  const kill = spec.kill;
  await tapTableWrites(spec.disk, spec.regions, (n) => {
    stats.gptWrites = n;
    if (kill?.kind === 'gpt-write' && n >= kill.afterWrites) crash();
  });
  const settings = settingsSchema.parse(spec.settingsInput);
  const logger = silentLogger();
  const deps = await buildEngineDeps(settings, { logger, identityPaths: spec.identityPaths });
  const openTarget: typeof deps.openTarget = async (disk, slot) =>
    new ObservedTarget(await deps.openTarget(disk, slot), (bytes) => {
      stats.bytesWritten = bytes;
      if (kill?.kind === 'bytes' && bytes >= kill.afterBytes) crash();
    });
  await send({ type: 'started' });
  const startedMs = performance.now();
  let exitCode: number;
  let error: { errorCode?: string; errorMessage?: string } = {};
  try {
    exitCode = await runDaemon(settings, {
      once: true,
      logger,
      signal: new AbortController().signal,
      identityPaths: spec.identityPaths,
      overrides: { ...deps, openTarget },
      onEngine: (engine) =>
        engine.machine.onChange((snap, prev) => {
          if (snap.status === prev.status) return;
          stats.statuses.push(snap.status);
          void send({ type: 'status', status: snap.status });
          if (kill?.kind === 'status' && snap.status === kill.status) crash();
        }),
    });
  } catch (e) {
    exitCode = isUpdateEngineError(e) ? exitCodeFor(e.code) : 70;
    error = isUpdateEngineError(e) ? { errorCode: e.code, errorMessage: e.message } : { errorMessage: String(e) };
  }
  stats.durationMs = Math.round(performance.now() - startedMs);
  await send({ type: 'done', exitCode, ...error, stats });
  process.exit(exitCode);
}

process.once('message', (message: ChildRunSpec) => {
  runOnce(message).catch(async (e: unknown) => {
    await send({
      type: 'done',
      exitCode: 70,
      errorMessage: `crash child: ${String(e)}`,
      stats: { durationMs: 0, statuses: [], gptWrites: 0, bytesWritten: 0 },
    });
    process.exit(70);
  });
});
await send({ type: 'ready' });
