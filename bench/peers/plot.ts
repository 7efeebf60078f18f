// Draws img/bench-peers.svg from bench/out/peers.json: the engine among its peers - wall time, CPU
// seconds per GiB (the client's and the whole machine's) and peak RSS (with the engine's at 4 GiB
// when bench/out/peers-4g.json is there) - and prints the lines against issue 17's targets.

import { readFile } from 'node:fs/promises';
import { axes, COLORS, groupedBars, legend, LIMIT, quarterMax, svgDocument } from '../apply/svg.ts';
import type { TimedRun } from './timed.ts';

export interface PeerRow {
  peer: string;
  seconds: number;
  clientCpuPerGiB: number;
  machineCpuPerGiB: number;
  peakRssMiB: number;
}

export interface PeersBench {
  size: string;
  sizeBytes: number;
  runs: number;
  machine: { node: string; cpus: number; loadAverage: { start: number[]; end: number[] } };
  summary: PeerRow[];
  results: Record<string, TimedRun[]>;
}

const SHORT: Record<string, string> = {
  engine: 'engine',
  swupdate: 'swupdate',
  rauc: 'RAUC',
  'curl-dd': 'curl|dd',
  'curl-tee-dd': 'curl|sha|dd',
};
const W = 1140;
const H = 420;
const PANEL = { top: 70, width: 320, height: 260 };
const x0 = (i: number) => 70 + i * (PANEL.width + 50);

/** Where the engine-only run at a larger size goes (--out), for the RSS comparison. */
export const LARGE_OUT = 'bench/out/peers-4g.json';

/** A benchmark file when it exists (the 4 GiB engine run is optional). */
export async function readOptionalBench(path: string): Promise<PeersBench | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as PeersBench);
}

export function drawPeersPlot(bench: PeersBench, large?: PeersBench): string {
  const out: string[] = [];
  const rows = bench.summary;
  const label = (r: PeerRow) => SHORT[r.peer] ?? r.peer;
  const wall = axes(
    out,
    { x0: x0(0), ...PANEL },
    `Wall time, ${bench.size} (median)`,
    '',
    'seconds',
    1,
    quarterMax(Math.max(...rows.map((r) => r.seconds))),
    false,
  );
  groupedBars(
    out,
    wall,
    rows.map((r) => ({ label: label(r), values: [r.seconds] })),
    [COLORS[0] as string],
    (v) => v.toFixed(2),
  );
  legend(out, wall, [['swupdate and RAUC include a final sync', '#fff']], 35);
  const cpuMax = quarterMax(Math.max(...rows.flatMap((r) => [r.clientCpuPerGiB, r.machineCpuPerGiB])));
  const cpu = axes(out, { x0: x0(1), ...PANEL }, 'CPU seconds per GiB (median)', '', 'CPU-s / GiB', 1, cpuMax, false);
  groupedBars(
    out,
    cpu,
    rows.map((r) => ({ label: label(r), values: [r.clientCpuPerGiB, r.machineCpuPerGiB] })),
    [COLORS[0] as string, COLORS[1] as string],
    (v) => v.toFixed(1),
  );
  legend(
    out,
    cpu,
    [
      ['client (the updater and its children)', COLORS[0] as string],
      ['machine (all CPUs: nginx, kernel writeback too)', COLORS[1] as string],
    ],
    35,
  );
  const largeRss = (peer: string) => large?.summary.find((r) => r.peer === peer)?.peakRssMiB ?? Number.NaN;
  const rssValues = rows.map((r) => [r.peakRssMiB, largeRss(r.peer)]);
  // RAUC's bundle download and install take over a GiB: its bar is cut, its label keeps the value.
  const rssMax = quarterMax(Math.max(150, ...rssValues.flat().filter((v) => Number.isFinite(v) && v < 1000)));
  const rss = axes(out, { x0: x0(2), ...PANEL }, 'Peak RSS (MiB; bars cut at the top)', '', 'MiB', 1, rssMax, false);
  out.push(`<line x1="${rss.x0}" x2="${rss.x0 + rss.width}" y1="${rss.py(100)}" y2="${rss.py(100)}" stroke="${LIMIT}" stroke-dasharray="4 3"/>`);
  groupedBars(
    out,
    rss,
    rows.map((r, i) => ({ label: label(r), values: rssValues[i] as number[] })),
    [COLORS[2] as string, COLORS[3] as string],
    (v) => v.toFixed(0),
  );
  legend(
    out,
    rss,
    [
      [`${bench.size} image`, COLORS[2] as string],
      ...(large ? ([[`${large.size} image (engine only)`, COLORS[3] as string]] as [string, string][]) : []),
      ['100 MiB (target for the engine)', LIMIT],
    ],
    35,
  );
  const load = bench.machine.loadAverage;
  const title = `update-engine among its peers: ${bench.size} into the same slot, one nginx (${bench.machine.cpus} CPUs, shared, load ${load.start[0]?.toFixed(1)}-${load.end[0]?.toFixed(1)}; medians of ${bench.runs} interleaved runs)`;
  return svgDocument(W, H, title, out);
}

/** Issue 17's targets, from the medians of one run (peers missing from it are left out). */
export function peersTargets(bench: PeersBench, large?: PeersBench): string[] {
  const row = (peer: string) => bench.summary.find((r) => r.peer === peer);
  const engine = row('engine');
  if (!engine) return [];
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const swupdate = row('swupdate');
  const rauc = row('rauc');
  const curlDd = row('curl-dd');
  if (swupdate && rauc)
    lines.push(
      `target wall below swupdate's and RAUC's: ${verdict(engine.seconds < swupdate.seconds && engine.seconds < rauc.seconds)} (${engine.seconds.toFixed(2)} s vs ${swupdate.seconds.toFixed(2)} s and ${rauc.seconds.toFixed(2)} s)`,
    );
  if (curlDd)
    lines.push(`target at least 0.85x curl|dd: ${verdict(curlDd.seconds / engine.seconds >= 0.85)} (${(curlDd.seconds / engine.seconds).toFixed(2)}x)`);
  if (swupdate)
    lines.push(
      `target client CPU-s/GiB at most swupdate's: ${verdict(engine.clientCpuPerGiB <= swupdate.clientCpuPerGiB)} (${engine.clientCpuPerGiB.toFixed(2)} vs ${swupdate.clientCpuPerGiB.toFixed(2)})`,
    );
  const largeEngine = large?.summary.find((r) => r.peer === 'engine');
  const rss = [engine.peakRssMiB, ...(largeEngine ? [largeEngine.peakRssMiB] : [])];
  lines.push(
    `target engine peak RSS <= 100 MiB${largeEngine ? ', the same at both sizes' : ''}: ${verdict(Math.max(...rss) <= 100 && Math.max(...rss) - Math.min(...rss) <= 0.1 * Math.min(...rss))} (` +
      `${bench.size} ${engine.peakRssMiB.toFixed(0)} MiB${largeEngine ? `, ${large?.size} ${largeEngine.peakRssMiB.toFixed(0)} MiB` : ''})`,
  );
  return lines;
}
