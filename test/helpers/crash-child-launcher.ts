// Runs crash-child.ts as real child processes: bundles the project's sources once with esbuild (the
// transform tsx uses; packages stay external and load from node_modules, etcd3 is stubbed out),
// keeps one spare child loaded ahead, sends it a run spec, and SIGKILLs it for time-based points.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { ChildMessage, ChildRunSpec } from './crash-protocol.ts';

const CHILD_SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
/** Bundles go under the repository's ignored tmp/, so that their package imports resolve to node_modules. */
const BUNDLE_PARENT = fileURLToPath(new URL('../../tmp/', import.meta.url));

export interface CrashChildBundle {
  path: string;
  /** Removes the bundle's directory. */
  remove(): Promise<void>;
}

/**
 * The children run with REBOOT_STRATEGY=off and never reach etcd, but the daemon imports the etcd
 * client (and gRPC) eagerly: a stub halves a child's start-up. Constructing a client throws.
 */
const stubEtcd: Plugin = {
  name: 'stub-etcd3',
  setup(b) {
    b.onResolve({ filter: /^etcd3$/ }, () => ({ path: 'etcd3', namespace: 'crash-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'crash-stub' }, () => ({
      loader: 'js',
      contents: `export class Etcd3 { constructor() { throw new Error('etcd3 is stubbed out in the crash child'); } }
export const isRecoverableError = () => false;`,
    }));
  },
};

/** Bundles the child and the project's modules it imports into one file; returns its path. */
export async function buildCrashChild(): Promise<CrashChildBundle> {
  await mkdir(BUNDLE_PARENT, { recursive: true });
  const dir = await mkdtemp(join(BUNDLE_PARENT, 'crash-child-'));
  const path = join(dir, 'crash-child.mjs');
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile: path,
    bundle: true,
    packages: 'external',
    plugins: [stubEtcd],
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
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
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once('exit', (code, signal) => resolve({ code, signal })),
    );
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
