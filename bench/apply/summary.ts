// The apply benchmark's figures from its raw runs: medians, engine/baseline ratios, peak RSS,
// start-up, CPU seconds (the budget that decides the ratio on a small machine), throttled rates and
// their worst 1 s window, and the lines printed against the targets.

import type { DaemonRun } from './daemon-run.ts';
import { maxWindowRate, median, spanRate, steadyRate, type BaselineRun } from './runners.ts';

const MiB = 1024 * 1024;
const MB = 1e6;

export interface RunRound {
  /** 1-minute load average when the round started (other work on the machine skews the figures). */
  loadAverage1m: number;
  engine: DaemonRun;
  baseline: BaselineRun;
  /** CPU seconds the Omaha/payload server (`update-engine serve`) spent during each. */
  serverCpuSeconds: { engine: number; baseline: number };
}

export interface SizeTargetResult {
  sizeBytes: number;
  payloadSizeBytes: number;
  target: 'file-region' | 'loop-partition';
  rounds: RunRound[];
}

export interface ThrottleResult {
  target: 'file-region' | 'loop-partition';
  /** "best": the daemon picks (cgroup first); "token-bucket": run without the cgroup mounts. */
  requested: 'best' | 'token-bucket';
  limitBytesPerSecond: number;
  loadAverage1m: number;
  run: DaemonRun;
}

export interface BenchResults {
  machine: { node: string; cpus: number; root: boolean; loadAverage: { start: number[]; end: number[] } };
  results: SizeTargetResult[];
  throttled: ThrottleResult[];
}

export interface SummaryRow {
  sizeBytes: number;
  target: string;
  runs: number;
  engineMiBps: number;
  baselineMiBps: number;
  /** Median over rounds of engine/baseline of the same round. */
  ratio: number;
  peakRssMB: number;
  medianPeakRssMB: number;
  /** Spawn to first log line, and spawn to the apply's start (Omaha check and plan included). */
  firstLogMs: number;
  applyStartMs: number;
  engineCpu: { total: number; main: number; hashWorkers: number; otherThreads: number };
  baselineCpuSeconds: number;
  serverCpuSeconds: { engine: number; baseline: number };
  loadAverage1m: number;
}

export interface ThrottleRow {
  target: string;
  mechanism: string;
  limitMiBps: number;
  /** Image bytes over the apply's duration, from the daemon's log. */
  applyMiBps: number;
  deviation: number;
  /** The rate where it is measured best: the loop device, else our cgroup, else the bytes the daemon dirtied. */
  measuredAt: 'device' | 'cgroup' | 'page cache';
  spanMiBps: number | undefined;
  /** Between the samples at 10% and at 90% of the bytes (runners.ts steadyRate). */
  steadyMiBps: number | undefined;
  maxOneSecondMiBps: number;
  loadAverage1m: number;
}

export interface Summary {
  rows: SummaryRow[];
  throttle: ThrottleRow[];
  lines: string[];
}

export const engineMiBps = (run: DaemonRun): number => Number(run.apply.imageBytes) / MiB / (Number(run.apply.durationMs) / 1000);

function summarizeRow(r: SizeTargetResult): SummaryRow {
  const engine = r.rounds.map((x) => engineMiBps(x.engine));
  const baseline = r.rounds.map((x) => r.payloadSizeBytes / MiB / x.baseline.seconds);
  const med = (f: (x: RunRound) => number) => median(r.rounds.map(f));
  return {
    sizeBytes: r.sizeBytes,
    target: r.target,
    runs: r.rounds.length,
    engineMiBps: median(engine),
    baselineMiBps: median(baseline),
    ratio: median(engine.map((e, i) => e / (baseline[i] as number))),
    peakRssMB: Math.max(...r.rounds.map((x) => x.engine.peakRssBytes)) / MB,
    medianPeakRssMB: med((x) => x.engine.peakRssBytes) / MB,
    firstLogMs: med((x) => x.engine.firstLogMs),
    applyStartMs: med((x) => x.engine.applyStartMs),
    engineCpu: {
      total: med((x) => x.engine.applyCpu.total),
      main: med((x) => x.engine.applyCpu.main),
      hashWorkers: med((x) => x.engine.applyCpu.hashWorkers),
      otherThreads: med((x) => x.engine.applyCpu.otherThreads),
    },
    baselineCpuSeconds: med((x) => x.baseline.cpuSeconds),
    serverCpuSeconds: { engine: med((x) => x.serverCpuSeconds.engine), baseline: med((x) => x.serverCpuSeconds.baseline) },
    loadAverage1m: med((x) => x.loadAverage1m),
  };
}

export function summarizeThrottle(t: ThrottleResult): ThrottleRow {
  const run = t.run;
  const [measuredAt, samples]: [ThrottleRow['measuredAt'], [number, number][]] = run.deviceSamples
    ? ['device', run.deviceSamples]
    : run.cgroupSamples
      ? ['cgroup', run.cgroupSamples]
      : ['page cache', run.writeSamples];
  const applyRate = Number(run.apply.imageBytes) / (Number(run.apply.durationMs) / 1000);
  const span = spanRate(samples);
  const steady = steadyRate(samples);
  return {
    target: t.target,
    mechanism: run.mechanism,
    limitMiBps: t.limitBytesPerSecond / MiB,
    applyMiBps: applyRate / MiB,
    deviation: (applyRate - t.limitBytesPerSecond) / t.limitBytesPerSecond,
    measuredAt,
    spanMiBps: span === undefined ? undefined : span / MiB,
    steadyMiBps: steady === undefined ? undefined : steady / MiB,
    maxOneSecondMiBps: maxWindowRate(samples, 1000) / MiB,
    loadAverage1m: t.loadAverage1m,
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pad = (s: string, n: number) => s.padStart(n);

export function summarize(bench: BenchResults): Summary {
  const rows = bench.results.map(summarizeRow);
  const throttle = bench.throttled.map(summarizeThrottle);
  const lines: string[] = [];
  const load = bench.machine.loadAverage;
  lines.push(
    `${bench.machine.cpus} CPUs, Node ${bench.machine.node}; load average (1/5/15 min) at start ${load.start.map((l) => l.toFixed(1)).join('/')}, at end ${load.end.map((l) => l.toFixed(1)).join('/')}`,
  );
  lines.push('size   target          runs  engine MiB/s  curl|dd MiB/s  ratio  peak RSS MB (median)  first log / apply start ms  load');
  for (const r of rows) {
    lines.push(
      `${pad(`${fmt(r.sizeBytes / MiB)}M`, 5)}  ${r.target.padEnd(15)} ${pad(String(r.runs), 4)}  ${pad(fmt(r.engineMiBps), 12)}  ${pad(fmt(r.baselineMiBps), 13)}  ${pad(fmt(r.ratio, 2), 5)}  ` +
        `${pad(fmt(r.peakRssMB), 11)} ${pad(`(${fmt(r.medianPeakRssMB)})`, 8)}  ${pad(`${fmt(r.firstLogMs)} / ${fmt(r.applyStartMs)}`, 26)}  ${fmt(r.loadAverage1m, 1)}`,
    );
  }
  lines.push('CPU seconds per run (medians): engine apply = main + hash workers + fs pool/V8 helpers; curl+dd; the payload server while serving each');
  for (const r of rows) {
    const c = r.engineCpu;
    lines.push(
      `${pad(`${fmt(r.sizeBytes / MiB)}M`, 5)}  ${r.target.padEnd(15)} engine ${fmt(c.total, 2)} = ${fmt(c.main, 2)} + ${fmt(c.hashWorkers, 2)} + ${fmt(c.otherThreads, 2)}; ` +
        `curl+dd ${fmt(r.baselineCpuSeconds, 2)}; server ${fmt(r.serverCpuSeconds.engine, 2)} (engine) / ${fmt(r.serverCpuSeconds.baseline, 2)} (curl|dd)`,
    );
  }
  for (const t of throttle) {
    lines.push(
      `IO_WRITE_BPS=${fmt(t.limitMiBps)}M ${t.target} by ${t.mechanism}: apply ${fmt(t.applyMiBps, 2)} MiB/s (${t.deviation >= 0 ? '+' : ''}${fmt(t.deviation * 100, 1)}%); ` +
        `at the ${t.measuredAt} ${t.spanMiBps === undefined ? '-' : fmt(t.spanMiBps, 2)} MiB/s, worst 1 s window ${fmt(t.maxOneSecondMiBps, 2)} MiB/s (load ${fmt(t.loadAverage1m, 1)})`,
    );
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  if (rows.length > 0)
    lines.push(
      `target engine >= 0.9x curl|dd: ${verdict(rows.every((r) => r.ratio >= 0.9))} (${rows.map((r) => `${fmt(r.sizeBytes / MiB)}M ${r.target} ${fmt(r.ratio, 2)}x`).join(', ')})`,
    );
  const rss = rows.map((r) => r.peakRssMB);
  if (rss.length > 0) {
    const flat = Math.max(...rss) - Math.min(...rss) <= 0.1 * Math.min(...rss);
    lines.push(
      `target peak RSS < 150 MB and the same for every size: ${verdict(Math.max(...rss) < 150 && flat)} (${rows.map((r) => `${fmt(r.sizeBytes / MiB)}M ${r.target} ${fmt(r.peakRssMB)} MB`).join(', ')})`,
    );
  }
  if (throttle.length > 0) lines.push(`target throttled rate within 5% of the limit: ${verdict(throttle.every((t) => Math.abs(t.deviation) <= 0.05))}`);
  return { rows, throttle, lines };
}
