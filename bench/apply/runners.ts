// One measured run each: the engine (a child process running engine-child.ts, timed from spawn to
// "ready" for start-up and by itself for the apply) and the baseline `curl -s URL | dd of=TARGET
// bs=1M conv=fsync` into the same target.

import { spawn } from 'node:child_process';
import type { EngineDone, EngineJob, EngineReady } from './engine-child.ts';

export interface EngineRun extends EngineDone {
  /** From spawn until the child said "ready" (process start, imports, keyring, transport, throttle). */
  spawnToReadyMs: number;
  /** The child's own clock at "ready" (from its process start). */
  childStartupMs: number;
}

/** Runs the engine child once and returns its figures. */
export function runEngine(job: EngineJob): Promise<EngineRun> {
  return new Promise((resolve, reject) => {
    const spawned = performance.now();
    const child = spawn(process.execPath, ['bin/run-ts.js', 'bench/apply/engine-child.ts', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let readyAtMs: number | undefined;
    let ready: EngineReady | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!ready && out.includes('\n')) {
        readyAtMs = performance.now();
        ready = JSON.parse(out.slice(0, out.indexOf('\n'))) as EngineReady;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.trim().split('\n');
      if (code !== 0 || !ready || lines.length < 2) {
        reject(new Error(`engine run failed (exit ${code}): ${err.trim() || out.trim()}`));
        return;
      }
      const done = JSON.parse(lines[1] as string) as EngineDone;
      resolve({ ...done, spawnToReadyMs: (readyAtMs as number) - spawned, childStartupMs: ready.startupMs });
    });
  });
}

export type BaselineTarget = { kind: 'file'; path: string; offsetBytes: number } | { kind: 'device'; path: string };

/** Times `curl -s URL | dd of=TARGET bs=1M conv=fsync` (a file region: seek there, do not truncate). */
export function runBaseline(url: string, target: BaselineTarget): Promise<{ seconds: number }> {
  const dd =
    target.kind === 'file'
      ? `dd of='${target.path}' bs=1M seek=${target.offsetBytes} oflag=seek_bytes conv=notrunc,fsync status=none`
      : `dd of='${target.path}' bs=1M conv=fsync status=none`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', `curl -sSf '${url}' | ${dd}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ seconds: (performance.now() - started) / 1000 });
      else reject(new Error(`baseline failed (exit ${code}): ${err.trim()}`));
    });
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The highest rate over any window of at least `windowMs` in cumulative [ms, bytes] samples: for each
 * sample, the shortest window of at least `windowMs` that ends there (bursts above a limit show here).
 */
export function maxWindowRate(samples: readonly [number, number][], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const [t, b] = samples[i] as [number, number];
    while (j + 1 < i && t - (samples[j + 1] as [number, number])[0] >= windowMs) j++;
    const [t0, b0] = samples[j] as [number, number];
    if (t - t0 >= windowMs) best = Math.max(best, ((b - b0) * 1000) / (t - t0));
  }
  return best;
}
