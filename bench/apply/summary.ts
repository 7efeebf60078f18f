// The apply benchmark's figures from its raw runs: medians, engine/baseline ratios, peak RSS,
// start-up, throttled rates and their worst 1 s window, and the lines printed against the targets.

import { maxWindowRate, median, type EngineRun } from './runners.ts';

const MiB = 1024 * 1024;

export interface SizeTargetResult {
  sizeBytes: number;
  payloadSizeBytes: number;
  target: string;
  engine: EngineRun[];
  stream: EngineRun[];
  baselineSeconds: number[];
}

export interface ThrottleResult {
  target: string;
  limitBytesPerSecond: number;
  run: EngineRun;
}

export interface BenchResults {
  machine: { node: string; root: boolean; loadAverage?: { start: number[]; end: number[] } };
  results: SizeTargetResult[];
  throttled: ThrottleResult[];
}

export interface SummaryRow {
  sizeBytes: number;
  target: string;
  runs: number;
  engineMiBps: number;
  streamMiBps: number;
  baselineMiBps: number;
  /** Median over runs of engine/baseline of the same round. */
  ratio: number;
  streamRatio: number;
  peakRssMB: number;
  medianPeakRssMB: number;
  streamPeakRssMB: number;
  startupMs: number;
}

export interface ThrottleRow {
  target: string;
  mechanism: string;
  limitMiBps: number;
  writeMiBps: number;
  /** (achieved - limit) / limit */
  deviation: number;
  /** The highest rate over any 1 s window: at the loop device, else as our cgroup submitted it, else at the target. */
  maxOneSecondMiBps: number;
  windowMeasuredAt: 'device' | 'cgroup' | 'target';
  /** The rate at the disk (bytes it received from us over the span it received them), where measurable. */
  diskMiBps?: number;
}

/** Bytes over the span from the first sample with bytes to the first sample at the total. */
export function spanRate(samples: readonly [number, number][]): number | undefined {
  const first = samples.find(([, b]) => b > 0);
  const total = samples.at(-1)?.[1] ?? 0;
  const last = samples.find(([, b]) => b >= total);
  if (!first || !last || last[0] <= first[0]) return undefined;
  return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
}

export interface Summary {
  rows: SummaryRow[];
  throttle: ThrottleRow[];
  lines: string[];
}

const MB = 1e6;
const fmt = (n: number, digits = 0) => n.toFixed(digits);

export function summarize(bench: BenchResults): Summary {
  const rows: SummaryRow[] = bench.results.map((r) => {
    const engine = r.engine.map((e) => (e.imageBytes * 1000) / e.applyMs / MiB);
    const stream = r.stream.map((e) => (e.imageBytes * 1000) / e.applyMs / MiB);
    const baseline = r.baselineSeconds.map((s) => r.payloadSizeBytes / s / MiB);
    return {
      sizeBytes: r.sizeBytes,
      target: r.target,
      runs: r.engine.length,
      engineMiBps: median(engine),
      streamMiBps: median(stream),
      baselineMiBps: median(baseline),
      ratio: median(engine.map((e, i) => e / (baseline[i] as number))),
      streamRatio: median(stream.map((e, i) => e / (baseline[i] as number))),
      peakRssMB: Math.max(...r.engine.map((e) => e.peakRssBytes)) / MB,
      medianPeakRssMB: median(r.engine.map((e) => e.peakRssBytes)) / MB,
      streamPeakRssMB: Math.max(...r.stream.map((e) => e.peakRssBytes)) / MB,
      startupMs: median(r.engine.map((e) => e.spawnToReadyMs)),
    };
  });
  const throttle: ThrottleRow[] = bench.throttled.map((t) => {
    const write = t.run.writeBytesPerSecond;
    return {
      target: t.target,
      mechanism: t.run.mechanism,
      limitMiBps: t.limitBytesPerSecond / MiB,
      writeMiBps: write / MiB,
      deviation: (write - t.limitBytesPerSecond) / t.limitBytesPerSecond,
      maxOneSecondMiBps: maxWindowRate(t.run.diskSamples ?? t.run.writeSamples, 1000) / MiB,
      windowMeasuredAt: t.run.diskSamplesSource ?? 'target',
      ...(t.run.diskSamples && spanRate(t.run.diskSamples) !== undefined ? { diskMiBps: (spanRate(t.run.diskSamples) as number) / MiB } : {}),
    };
  });
  const lines: string[] = [];
  const load = bench.machine.loadAverage;
  if (load) lines.push(`load average (1/5/15 min) at start ${load.start.map((l) => l.toFixed(1)).join('/')}, at end ${load.end.map((l) => l.toFixed(1)).join('/')}`);
  lines.push('size     target          runs  engine MiB/s  stream MiB/s  curl|dd MiB/s  engine/dd  stream/dd  peak RSS MB (stream)  start-up ms');
  for (const r of rows) {
    lines.push(
      `${fmt(r.sizeBytes / MiB).padStart(5)}M  ${r.target.padEnd(15)} ${String(r.runs).padStart(4)}  ${fmt(r.engineMiBps).padStart(12)}  ${fmt(r.streamMiBps).padStart(12)}  ` +
        `${fmt(r.baselineMiBps).padStart(13)}  ${fmt(r.ratio, 2).padStart(9)}  ${fmt(r.streamRatio, 2).padStart(9)}  ${fmt(r.peakRssMB).padStart(11)} ${`(${fmt(r.streamPeakRssMB)})`.padStart(8)}  ${fmt(r.startupMs).padStart(11)}`,
    );
  }
  for (const t of throttle) {
    lines.push(
      `IO_WRITE_BPS=${fmt(t.limitMiBps)}M ${t.target} by ${t.mechanism}: ${fmt(t.writeMiBps, 2)} MiB/s (${t.deviation >= 0 ? '+' : ''}${fmt(t.deviation * 100, 1)}%), ` +
        `worst 1 s window ${fmt(t.maxOneSecondMiBps, 2)} MiB/s (at the ${t.windowMeasuredAt})${t.diskMiBps !== undefined ? `, at the ${t.windowMeasuredAt} ${fmt(t.diskMiBps, 2)} MiB/s` : ''}`,
    );
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const ratios = rows.filter((r) => r.sizeBytes === rows[0]?.sizeBytes);
  if (ratios.length > 0) lines.push(`target engine >= 0.9x curl|dd: ${verdict(ratios.every((r) => r.ratio >= 0.9))} (${ratios.map((r) => `${r.target} ${fmt(r.ratio, 2)}x`).join(', ')})`);
  const rss = rows.map((r) => r.peakRssMB);
  if (rss.length > 0) {
    const flat = Math.max(...rss) - Math.min(...rss) <= 0.1 * Math.min(...rss);
    lines.push(`target peak RSS < 150 MB and flat across sizes: ${verdict(Math.max(...rss) < 150 && flat)} (${rows.map((r) => `${fmt(r.sizeBytes / MiB)}M ${r.target} ${fmt(r.peakRssMB)} MB`).join(', ')})`);
  }
  if (throttle.length > 0) lines.push(`target throttled rate within 5% of the limit: ${verdict(throttle.every((t) => Math.abs(t.deviation) <= 0.05))}`);
  return { rows, throttle, lines };
}
