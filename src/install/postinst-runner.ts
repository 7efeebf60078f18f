// Runs the new image's /postinst as update_engine does (argv[1] = the new slot's device), inside
// the slot's mount namespace, with a bare environment, POSTINSTALL_TIMEOUT, its output logged line
// by line (bounded), in its own process group (killed whole on timeout or abort) and with
// PR_SET_PDEATHSIG (setpriv), so that it dies with the daemon instead of outliving a crash.

import { spawnArgv } from '../platform/exec.ts';
import type { Logger } from '../platform/logger.ts';
import { LineSplitter } from './line-logger.ts';
import type { MountNamespace } from './mount-namespace.ts';

/** Grace between SIGTERM and SIGKILL once the timeout expired or the cycle was cancelled. */
const KILL_GRACE_MS = 3000;

export interface PostinstRun {
  program: string;
  device: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  logger: Logger;
  /** Called for every line of output (tests, the crash bench). */
  onLine?: ((stream: 'stdout' | 'stderr', line: string) => void) | undefined;
}

export interface PostinstResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  outputBytes: number;
  lines: number;
  linesLogged: number;
}

export async function runPostinst(ns: MountNamespace, run: PostinstRun): Promise<PostinstResult> {
  const startedMs = performance.now();
  const cwd = run.program.slice(0, run.program.lastIndexOf('/')) || '/';
  const argv = ns.wrap(['setpriv', '--pdeathsig', 'KILL', '--', run.program, run.device], cwd);
  const child = spawnArgv(argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...run.env },
    detached: true,
  });
  const splitters = (['stdout', 'stderr'] as const).map((stream) => {
    const s = new LineSplitter((line) => {
      run.logger.info({ postinst: stream }, line);
      run.onLine?.(stream, line);
    });
    const pipe = child[stream];
    pipe?.on('data', (b: Buffer) => s.push(b));
    pipe?.on('end', () => s.end());
    return s;
  });
  let timedOut = false;
  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = () => {
    killGroup('SIGTERM');
    killTimer ??= setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, run.timeoutMs);
  const onAbort = () => {
    aborted = true;
    stop();
  };
  run.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      // A background process left in the group would hold the pipes open: it goes with its parent.
      child.once('exit', () => killGroup('SIGKILL'));
      child.once('close', (code, sig) => resolve([code, sig]));
    });
    const stats = splitters.map((s) => s.stats);
    return {
      exitCode,
      signal,
      timedOut,
      aborted,
      durationMs: Math.round(performance.now() - startedMs),
      outputBytes: stats.reduce((n, s) => n + s.bytes, 0),
      lines: stats.reduce((n, s) => n + s.lines, 0),
      linesLogged: stats.reduce((n, s) => n + s.linesLogged, 0),
    };
  } finally {
    clearTimeout(timer);
    if (killTimer) clearTimeout(killTimer);
    run.signal.removeEventListener('abort', onAbort);
  }
}
