// The delta benchmark's figures from its raw runs: per pair, the medians of bytes fetched and wall
// time for the full apply, the delta apply and casync, and the lines printed against issue 18's targets.

import { median } from '../apply/runners.ts';
import type { MethodRun } from './pair.ts';

const MiB = 1024 * 1024;

export const METHODS = ['full', 'delta', 'casync'] as const;
export type Method = (typeof METHODS)[number];

export interface PairResult {
  kind: string;
  v1Bytes: number;
  v2Bytes: number;
  payloadBytes: number;
  manifest: Record<string, unknown>;
  runs: Record<Method, MethodRun[]>;
}

export interface DeltaBench {
  machine: { node: string; cpus: number; loadAverage: { start: number[]; end: number[] } };
  /** nginx's limit_rate per response (0: loopback at full speed). */
  rateBytesPerSecond?: number;
  tree: { files: number; bytes: number };
  change: { changed: number; removed: number; added: number; changedBytes: number };
  seed: number;
  pairs: PairResult[];
}

export interface MethodFigures {
  fetchedBytes: number;
  requests: number;
  seconds: number;
  /** The engine's apply action alone (no process start, no Omaha check). */
  applySeconds?: number;
  /** The engine daemon's peak RSS (VmHWM) over the run. */
  peakRssBytes?: number;
}

export interface PairRow {
  kind: string;
  v2Bytes: number;
  payloadBytes: number;
  chunkScheme: string;
  methods: Record<Method, MethodFigures>;
}

function figures(runs: MethodRun[]): MethodFigures {
  const out: MethodFigures = {
    fetchedBytes: median(runs.map((r) => r.fetchedBytes)),
    requests: median(runs.map((r) => r.requests)),
    seconds: median(runs.map((r) => r.seconds)),
  };
  const apply = runs.map((r) => r.applySeconds).filter((s): s is number => s !== undefined);
  if (apply.length > 0) out.applySeconds = median(apply);
  const rss = runs.map((r) => r.peakRssBytes).filter((b): b is number => b !== undefined);
  if (rss.length > 0) out.peakRssBytes = median(rss);
  return out;
}

export function pairRows(bench: DeltaBench): PairRow[] {
  return bench.pairs.map((p) => ({
    kind: p.kind,
    v2Bytes: p.v2Bytes,
    payloadBytes: p.payloadBytes,
    chunkScheme: typeof p.manifest.chunkScheme === 'string' ? p.manifest.chunkScheme : `none (format ${String(p.manifest.formatVersion ?? 1)})`,
    methods: { full: figures(p.runs.full), delta: figures(p.runs.delta), casync: figures(p.runs.casync) },
  }));
}

const mib = (b: number) => (b / MiB).toFixed(1);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

/** The table and the verdicts against the targets. */
export function deltaLines(bench: DeltaBench, rows: PairRow[]): string[] {
  const runs = bench.pairs[0]?.runs.full.length ?? 0;
  const lines = [
    `tree v1: ${bench.tree.files} files, ${mib(bench.tree.bytes)} MiB; v2: ${bench.change.changed} changed, ${bench.change.removed} removed, ${bench.change.added} added (seed ${bench.seed}); medians of ${runs} interleaved runs`,
    `fetched = bytes nginx sent (headers included)${bench.rateBytesPerSecond ? `, at most ${mib(bench.rateBytesPerSecond)} MiB/s per response` : ' over loopback, unlimited'}; wall = process start to exit (engine: daemon --once; casync: extract + sync); apply = the engine apply action`,
    'image      v2 MiB  scheme              | full MiB  wall s (apply) | delta MiB  % of full  req  wall s (apply) | casync MiB  % of full   req  wall s',
  ];
  for (const r of rows) {
    const { full, delta, casync } = r.methods;
    lines.push(
      `${r.kind.padEnd(10)} ${mib(r.v2Bytes).padStart(6)}  ${r.chunkScheme.padEnd(19)} | ${mib(full.fetchedBytes).padStart(8)}  ${full.seconds.toFixed(2).padStart(6)} (${full.applySeconds?.toFixed(2) ?? '-'}) | ` +
        `${mib(delta.fetchedBytes).padStart(9)}  ${pct(delta.fetchedBytes, full.fetchedBytes).padStart(9)}  ${String(delta.requests).padStart(3)}  ${delta.seconds.toFixed(2).padStart(6)} (${delta.applySeconds?.toFixed(2) ?? '-'}) | ` +
        `${mib(casync.fetchedBytes).padStart(10)}  ${pct(casync.fetchedBytes, full.fetchedBytes).padStart(9)}  ${String(casync.requests).padStart(4)}  ${casync.seconds.toFixed(2).padStart(6)}`,
    );
  }
  for (const r of rows) {
    const { full, delta } = r.methods;
    if (full.peakRssBytes !== undefined && delta.peakRssBytes !== undefined) {
      lines.push(`${r.kind}: engine peak RSS ${mib(full.peakRssBytes)} MiB full, ${mib(delta.peakRssBytes)} MiB delta`);
    }
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const blockAligned = rows.filter((r) => /^(ext4|erofs)$/.test(r.kind));
  lines.push(
    `target delta <= 10% of full for ext4 and erofs: ${verdict(blockAligned.length > 0 && blockAligned.every((r) => r.methods.delta.fetchedBytes <= 0.1 * r.methods.full.fetchedBytes))}`,
    `target delta <= casync on every pair: ${verdict(rows.every((r) => r.methods.delta.fetchedBytes <= r.methods.casync.fetchedBytes))}`,
    `target delta wall < full wall on every pair: ${verdict(rows.every((r) => r.methods.delta.seconds < r.methods.full.seconds))}`,
    `no block fetched again (the seed never changes here): ${verdict(bench.pairs.every((p) => p.runs.delta.every((r) => !r.engineBlocksRefetched)))}`,
  );
  return lines;
}
