// Runs crash-child.ts as real child processes: bundles it once with esbuild (the transform tsx uses;
// a bundle loads in a quarter of the CPU time), keeps one spare child loaded ahead, sends it a run
// spec, and kills it with SIGKILL from outside for time-based kill points.

import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ChildMessage, ChildRunSpec } from './crash-protocol.ts';

const CHILD_SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Bundles the child and everything it imports into `outDir/crash-child.mjs`; returns its path. */
export async function buildCrashChild(outDir: string): Promise<string> {
  const outfile = join(outDir, 'crash-child.mjs');
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // Bundled CommonJS packages call require(): give the ES module one.
    banner: { js: "import { createRequire as __crashRequire } from 'node:module'; const require = __crashRequire(import.meta.url);" },
  });
  return outfile;
}

type DoneMessage = Extract<ChildMessage, { type: 'done' }>;

/** How a child run ended. */
export interface ChildOutcome {
  /** 'killed': SIGKILL before the cycle finished; 'finished': the cycle ended by itself (with `done`). */
  end: 'killed' | 'finished';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  done: DoneMessage | undefined;
  /** The last status the child reported before it ended (where a time-based kill landed). */
  lastStatus: string | undefined;
  /** The child's stderr (empty unless something went wrong). */
  stderr: string;
}

interface Spawned {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

export class CrashChildLauncher {
  private spare: Spawned | undefined;

  constructor(
    private readonly bundlePath: string,
    private readonly timeoutMs = 60_000,
  ) {}

  private spawn(): Spawned {
    const proc = fork(this.bundlePath, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type !== 'ready') return;
        proc.off('message', onMessage);
        resolve();
      };
      proc.on('message', onMessage);
      void exited.then(({ code, signal }) => reject(new Error(`Crash child exited before it was ready (${code ?? signal}): ${stderr}`)));
    });
    ready.catch(() => undefined);
    return { proc, ready, exited, stderr: () => stderr };
  }

  /** Runs one cycle in a loaded child; with `killAfterMs`, SIGKILLs it that long after it started the cycle. */
  async run(spec: ChildRunSpec, killAfterMs?: number): Promise<ChildOutcome> {
    const child = this.spare ?? this.spawn();
    this.spare = this.spawn();
    await child.ready;
    let done: DoneMessage | undefined;
    let lastStatus: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    child.proc.on('message', (m: ChildMessage) => {
      if (m.type === 'done') done = m;
      if (m.type === 'status') lastStatus = m.status;
      if (m.type === 'started' && killAfterMs !== undefined) timer = setTimeout(() => child.proc.kill('SIGKILL'), killAfterMs);
    });
    let timedOut = false;
    const watchdog = setTimeout(() => {
      timedOut = true;
      child.proc.kill('SIGKILL');
    }, this.timeoutMs);
    child.proc.send(spec);
    const { code, signal } = await child.exited;
    clearTimeout(timer);
    clearTimeout(watchdog);
    if (timedOut) throw new Error(`Crash child did not finish its cycle within ${this.timeoutMs} ms: ${child.stderr()}`);
    const end = signal === 'SIGKILL' && done === undefined ? 'killed' : 'finished';
    return { end, exitCode: code, signal, done, lastStatus, stderr: child.stderr() };
  }

  /** Stops the spare child (by its own pid). */
  async close(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.proc.exitCode === null && spare.proc.signalCode === null) {
      spare.proc.kill('SIGKILL');
      await spare.exited;
    }
  }
}
