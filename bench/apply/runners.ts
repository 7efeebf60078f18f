// The baseline of the apply benchmark, `curl -s URL | dd of=TARGET bs=1M conv=fsync` into the same
// bytes the daemon writes (timed, with its CPU seconds), and the statistics the summary needs.

import { spawn } from 'node:child_process';

/** Where the baseline writes: the slot's byte range on the disk image file or the loop device. */
export interface BaselineTarget {
  path: string;
  offsetBytes: number;
}

export interface BaselineRun {
  seconds: number;
  /** CPU seconds of curl and dd together (user + system). */
  cpuSeconds: number;
}

/** Sums the children's user and system times printed by bash's `times` (second line: "0m1.234s 0m0.567s"). */
export function parseTimes(text: string): number {
  const lines = text.trim().split('\n');
  const children = lines.at(-1) ?? '';
  let total = 0;
  for (const m of children.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60 + Number(m[2]);
  return total;
}

/** Times the baseline; dd seeks to the slot (bytes) and never truncates the disk image. */
export function runBaseline(url: string, target: BaselineTarget): Promise<BaselineRun> {
  const dd = `dd of='${target.path}' bs=1M seek=${target.offsetBytes} oflag=seek_bytes conv=notrunc,fsync status=none`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', `curl -sSf '${url}' | ${dd} && times >&2`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ seconds, cpuSeconds: parseTimes(err) });
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

/** Bytes over the span from the last sample before any bytes to the first sample at the total. */
/**
 * The rate between two exact sample points: the first at which `from` of the total bytes were counted
 * and the first at which `to` were. Unlike spanRate, neither end carries up to a sampling interval of
 * time in which nothing was written (50 ms of 4 s is 1.25%), nor the ramp at the start and the final
 * sync at the end: the throttled rate itself, over (to - from) of the bytes.
 */
export function steadyRate(samples: readonly [number, number][], from = 0.1, to = 0.9): number | undefined {
  const base = samples[0]?.[1] ?? 0;
  const total = (samples.at(-1)?.[1] ?? 0) - base;
  if (total <= 0) return undefined;
  const a = samples.find(([, b]) => b - base >= from * total);
  const z = samples.find(([, b]) => b - base >= to * total);
  if (!a || !z || z[0] <= a[0]) return undefined;
  return ((z[1] - a[1]) * 1000) / (z[0] - a[0]);
}

export function spanRate(samples: readonly [number, number][]): number | undefined {
  const base = samples[0]?.[1] ?? 0;
  const firstIndex = samples.findIndex(([, b]) => b > base);
  if (firstIndex < 1) return undefined;
  const [t0, b0] = samples[firstIndex - 1] as [number, number];
  const total = samples.at(-1)?.[1] ?? 0;
  const last = samples.find(([, b]) => b >= total);
  if (!last || last[0] <= t0) return undefined;
  return ((last[1] - b0) * 1000) / (last[0] - t0);
}
