// One measured run of the real program: `update-engine daemon --once` (the compiled build) with a
// generated update.conf against the local Omaha server. Start-up and the apply are taken from the
// daemon's own log lines; peak RSS (VmHWM), CPU per thread and bytes written are sampled from /proc.

import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launcherEnv } from './engine-build.ts';
import { cgroupWrittenBytes, cpuSeconds, deviceWrittenBytes, procField, ThreadCpuTracker } from './proc-stats.ts';

export interface DaemonJob {
  /** The compiled entry point (…/src/cli/update-engine.js). */
  entry: string;
  /** Omaha update URL of the server. */
  serverUrl: string;
  /** DISK: the image file or the loop device. */
  disk: string;
  publicKeyPath: string;
  /** Scratch directory of this run (state, run dir, update.conf); removed afterwards. */
  runDir: string;
  /** IO_WRITE_BPS (0 = none). */
  ioWriteBytesPerSecond: number;
  /** Run the daemon in a mount namespace without the cgroup mounts, so that the token bucket is used (root). */
  withoutCgroups?: boolean;
  /** Block device whose own write count is sampled (a loop device nobody else writes to). */
  sampleDevice?: string;
  sampleEveryMs?: number;
  /** Extra node options for the daemon (e.g. --cpu-prof while investigating). */
  nodeArgs?: string[];
  /** Extra environment variables for the daemon (its environment is otherwise PATH, HOME and the launcher's, see launcherEnv). */
  env?: Record<string, string>;
  /** More update.conf lines (KEY=VALUE), e.g. DELTA=false. */
  settings?: Record<string, string>;
}

export interface ApplyCpu {
  /** utime + stime of the whole process over the apply. */
  total: number;
  /** The main thread (HTTP, tar, block bookkeeping, read-back compare). */
  main: number;
  /** Threads started during the apply: the SHA-256 workers. */
  hashWorkers: number;
  /** libuv's file-system pool (pwrite, pread, fdatasync) and V8's helper threads. */
  otherThreads: number;
}

export interface DaemonRun {
  /** From spawn to the daemon's first log line (process start, imports, settings). */
  firstLogMs: number;
  /** From spawn to the apply action's start (also the Omaha check and the plan). */
  applyStartMs: number;
  /** The apply action's log line: durationMs, megabytesPerSecond, imageBytes, payloadBytesFetched, ... */
  apply: Record<string, number | string | boolean>;
  applyCpu: ApplyCpu;
  /** From spawn to exit. */
  totalMs: number;
  /** VmHWM of the daemon process at its last sample (the peak resident set). */
  peakRssBytes: number;
  /** [ms since spawn, VmRSS] */
  rssSamples: [number, number][];
  /** [ms since spawn, bytes the daemon dirtied (/proc/PID/io write_bytes)] */
  writeSamples: [number, number][];
  /** [ms since spawn, bytes the loop device completed] when sampleDevice is set. */
  deviceSamples?: [number, number][];
  /** [ms since spawn, bytes written as the daemon's own blkio cgroup counts them] (cgroup v1 throttle). */
  cgroupSamples?: [number, number][];
  /** The IO_WRITE_BPS mechanism the daemon logged ("none" without a limit). */
  mechanism: string;
  /** The daemon's "IO write throttle: ..." log messages (which mechanisms it tried, and why one failed). */
  throttleLog: string[];
}

interface LogLine {
  msg?: string;
  action?: string;
  mechanism?: string;
  [key: string]: unknown;
}

async function writeConf(job: DaemonJob): Promise<string> {
  const conf = join(job.runDir, 'update.conf');
  await mkdir(join(job.runDir, 'state'), { recursive: true });
  const lines = [
    `SERVER=${job.serverUrl}`,
    'VERSION=1.0.0',
    `DISK=${job.disk}`,
    'BOOTED_PARTITION=3',
    `PUBLIC_KEYS=${resolve(job.publicKeyPath)}`,
    `STATE_DIR=${join(job.runDir, 'state')}`,
    `RUN_DIR=${join(job.runDir, 'run')}`,
    `CONTROL_SOCKET=${join(job.runDir, 'run', 'control.sock')}`,
    'REBOOT_STRATEGY=off',
    'LOG_LEVEL=info',
    `IO_WRITE_BPS=${job.ioWriteBytesPerSecond}`,
    ...Object.entries(job.settings ?? {}).map(([key, value]) => `${key}=${value}`),
  ];
  await writeFile(conf, `${lines.join('\n')}\n`);
  return conf;
}

/** Runs the daemon once and collects its figures; rejects when it fails. */
export async function runDaemon(job: DaemonJob): Promise<DaemonRun> {
  const conf = await writeConf(job);
  const argv = [...(job.nodeArgs ?? []), job.entry, 'daemon', '--once', '--sysroot', job.runDir, '--config', conf];
  // Without cgroups: a private mount namespace in which the cgroup mounts are gone; sh then execs node (same pid).
  const [cmd, args] = job.withoutCgroups
    ? ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'umount -l /sys/fs/cgroup 2>/dev/null; exec "$@"', 'sh', process.execPath, ...argv]]
    : [process.execPath, argv];
  const spawned = performance.now();
  const since = () => Math.round(performance.now() - spawned);
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...launcherEnv(), ...job.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid as number;
  const threads = new ThreadCpuTracker();
  const lines: LogLine[] = [];
  let firstLogMs = Number.NaN;
  let applyStartMs = Number.NaN;
  let cpuAtStart: Promise<number | undefined> = Promise.resolve(undefined);
  let cpuAtEnd: Promise<number | undefined> = Promise.resolve(undefined);
  let stderr = '';
  let pending = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      if (Number.isNaN(firstLogMs)) firstLogMs = since();
      if (line.action === 'apply' && line.msg === 'action started') {
        applyStartMs = since();
        cpuAtStart = cpuSeconds(pid);
        threads.markStart();
      }
      if (line.action === 'apply' && line.msg === 'action finished') {
        cpuAtEnd = cpuSeconds(pid);
        threads.markEnd();
      }
      lines.push(line);
    }
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (process.env.BENCH_DAEMON_LOG) stdout += d;
  });
  const rssSamples: [number, number][] = [];
  const writeSamples: [number, number][] = [];
  const deviceSamples: [number, number][] = [];
  const cgroupSamples: [number, number][] = [];
  let peakRssBytes = 0;
  const deviceAtStart = job.sampleDevice ? ((await deviceWrittenBytes(job.sampleDevice)) ?? 0) : 0;
  const sample = async () => {
    const ms = since();
    const hwm = await procField(pid, 'status', /^VmHWM:\s+(\d+) kB/m);
    const rss = await procField(pid, 'status', /^VmRSS:\s+(\d+) kB/m);
    const written = await procField(pid, 'io', /^write_bytes: (\d+)/m);
    if (hwm !== undefined) peakRssBytes = Math.max(peakRssBytes, hwm * 1024);
    if (rss !== undefined) rssSamples.push([ms, rss * 1024]);
    if (written !== undefined) writeSamples.push([ms, written]);
    await threads.sample(pid, ms);
    const inCgroup = await cgroupWrittenBytes(pid);
    if (inCgroup !== undefined) cgroupSamples.push([since(), inCgroup]);
    if (job.sampleDevice) {
      const bytes = await deviceWrittenBytes(job.sampleDevice);
      if (bytes !== undefined) deviceSamples.push([since(), bytes - deviceAtStart]);
    }
  };
  const timer = setInterval(() => void sample(), job.sampleEveryMs ?? 50);
  const exitCode = await new Promise<number | null>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolveExit(code));
  });
  clearInterval(timer);
  const totalMs = since();
  await rm(job.runDir, { recursive: true, force: true });
  // BENCH_DAEMON_LOG=FILE keeps the last run's log (what the daemon decided, for a figure that surprises).
  if (process.env.BENCH_DAEMON_LOG) await writeFile(process.env.BENCH_DAEMON_LOG, stdout + stderr);
  if (process.env.BENCH_RSS_LOG) await writeFile(process.env.BENCH_RSS_LOG, JSON.stringify(rssSamples));
  const finished = lines.find((l) => l.action === 'apply' && l.msg === 'action finished');
  if (exitCode !== 0 || !finished) {
    throw new Error(`daemon run failed (exit ${exitCode}):\n${stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  const apply: DaemonRun['apply'] = {};
  for (const [key, value] of Object.entries(finished)) {
    if (key === 'time' || key === 'level' || key === 'pid') continue;
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') apply[key] = value;
  }
  const split = threads.split(pid, applyStartMs);
  const total = ((await cpuAtEnd) ?? Number.NaN) - ((await cpuAtStart) ?? Number.NaN);
  return {
    firstLogMs,
    applyStartMs,
    apply,
    applyCpu: { total, main: split.main, hashWorkers: split.newThreads, otherThreads: split.otherThreads },
    totalMs,
    peakRssBytes,
    rssSamples,
    writeSamples,
    ...(job.sampleDevice ? { deviceSamples } : {}),
    ...(cgroupSamples.length > 0 ? { cgroupSamples } : {}),
    // "IO write throttle: 40 MiB/s by cgroup-v1 ..." (mechanisms that could not be set up are warned about first)
    throttleLog: lines.filter((l) => /^IO write throttle/.test(l.msg ?? '')).map((l) => l.msg as string),
    mechanism: lines.findLast((l) => typeof l.mechanism === 'string' && /^IO write throttle: .* by /.test(l.msg ?? ''))?.mechanism ?? 'none',
  };
}
