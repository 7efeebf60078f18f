// Running other programs: argv only, never a shell, with a timeout and captured output.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type { ChildProcess };

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  input?: string | Buffer;
  cwd?: string;
  /** Open file descriptors the child inherits as fd 3, 4, ... (e.g. for flock(1) on an open file). */
  inheritFds?: readonly number[];
}

/** Splits a command setting (REBOOT_COMMAND, HEALTH_CHECK) on white space into argv. No quoting, no shell. */
export function splitCommand(command: string): string[] {
  return command.split(/\s+/).filter((part) => part.length > 0);
}

/** Runs argv[0] with the rest as arguments; resolves with its exit status and output (never rejects on a non-zero exit). */
export function execArgv(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('Empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe', ...(options.inheritFds ?? [])],
      env: options.env ?? process.env,
      cwd: options.cwd,
      signal: options.signal,
      // spawn wants whole milliseconds; callers compute what is left of a deadline (9999.99 would throw).
      timeout: options.timeoutMs === undefined ? undefined : Math.max(1, Math.ceil(options.timeoutMs)),
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (exitCode, signal) =>
      resolve({ exitCode, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin!.on('error', () => {});
    child.stdin!.end(options.input ?? '');
  });
}

/**
 * Starts argv[0] with the rest as arguments and hands back the child, for programs that run beside
 * the daemon (a mount-namespace holder, a FUSE server, a post-install program with streamed output).
 * Never a shell.
 */
export function spawnArgv(argv: readonly string[], options: Omit<SpawnOptions, 'shell'> = {}): ChildProcess {
  const [file, ...args] = argv;
  if (!file) throw new Error('Empty command');
  return spawn(file, args, { ...options, shell: false });
}

/** Runs argv and resolves with its standard output as bytes (binary-safe); rejects on a non-zero exit. */
export function execArgvBytes(argv: readonly string[], options: { maxBytes?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawnArgv(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      size += d.length;
      if (size > (options.maxBytes ?? 1024 * 1024 * 1024)) child.kill('SIGKILL');
      else chunks.push(d);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`${argv.join(' ')} failed (${code ?? 'killed'}): ${stderr.trim()}`));
    });
  });
}

/** Runs argv to the end, synchronously (tools for the demo's image building); its standard output, or throws with its standard error. */
export function execArgvSync(
  argv: readonly string[],
  options: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; maxBytes?: number } = {},
): Buffer {
  const [file, ...args] = argv;
  if (!file) throw new Error('Empty command');
  const r = spawnSync(file, args, {
    shell: false,
    cwd: options.cwd,
    input: options.input,
    env: options.env ?? process.env,
    maxBuffer: options.maxBytes ?? 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`Cannot run ${file}: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** Whether `name` is an executable on PATH (what the shell's `command -v` answers). */
export function hasCommand(name: string, path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
