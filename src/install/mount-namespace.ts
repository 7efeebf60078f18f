// A private mount namespace held by a small child (`unshare -m --propagation private cat`): mounts
// made in it (through nsenter) are invisible to the host and vanish with it. Node reaches its files
// through /proc/PID/root. The holder exits when our end of its stdin closes, also when we crash.

import { readlink } from 'node:fs/promises';
import { execArgv, spawnArgv, type ChildProcess, type ExecResult } from '../platform/exec.ts';

export class MountNamespace {
  private constructor(
    private readonly holder: ChildProcess,
    readonly pid: number,
  ) {}

  /** Starts the holder; fails when unshare cannot make a mount namespace (needs root). */
  static async create(): Promise<MountNamespace> {
    const holder = spawnArgv(['unshare', '--mount', '--propagation', 'private', 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    holder.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    holder.stdin?.on('error', () => {});
    const pid = holder.pid;
    if (pid === undefined) {
      await new Promise((r) => holder.once('error', r));
      throw new Error('Cannot start "unshare --mount": the command is missing');
    }
    // Ready once /proc/PID/ns/mnt differs from ours (unshare has made the namespace and exec'd cat).
    const own = await readlink('/proc/self/ns/mnt');
    for (let i = 0; i < 200; i++) {
      if (holder.exitCode !== null) throw new Error(`Cannot make a private mount namespace: ${stderr.trim() || `unshare exited with ${holder.exitCode}`}`);
      const theirs = await readlink(`/proc/${pid}/ns/mnt`).catch(() => own);
      if (theirs !== own) return new MountNamespace(holder, pid);
      await new Promise((r) => setTimeout(r, 5));
    }
    holder.kill('SIGKILL');
    throw new Error('Cannot make a private mount namespace: unshare did not get there in 1 s');
  }

  /** A path of the namespace as the host can open it. */
  hostPath(path: string): string {
    return `/proc/${this.pid}/root${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** The argv that runs `argv` inside the namespace (nsenter execs it: same pid, no fork). */
  wrap(argv: readonly string[], cwd?: string): string[] {
    return ['nsenter', '-t', String(this.pid), '-m', ...(cwd ? [`--wd=${cwd}`] : []), '--', ...argv];
  }

  /** Runs a command inside the namespace; throws with its stderr when it fails. */
  async run(argv: readonly string[], what: string, timeoutMs = 60_000): Promise<ExecResult> {
    const result = await execArgv(this.wrap(argv), { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    if (result.exitCode !== 0) {
      const reason = result.stderr.trim() || result.stdout.trim() || (result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`);
      throw new Error(`${what}: ${argv.join(' ')}: ${reason}`);
    }
    return result;
  }

  /** Ends the holder; the kernel drops the namespace's mounts (and autoclear loop devices) once no process is left in it. */
  async close(): Promise<void> {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) return;
    const exited = new Promise((r) => this.holder.once('exit', r));
    this.holder.stdin?.end();
    const timer = setTimeout(() => this.holder.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
