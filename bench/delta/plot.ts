// Draws img/bench-delta.svg from the delta benchmark's figures: per image pair, the bytes fetched
// (full apply, delta apply, casync) as a share of the full payload, and the wall times. Plain SVG.

import { axes, COLORS, esc, groupedBars, legend, LIMIT, quarterMax, svgDocument } from '../apply/svg.ts';
import { METHODS, type DeltaBench, type PairRow } from './summary.ts';

const W = 800;
const H = 440;
const PANEL = { top: 80, width: 300, height: 250 };
const LABELS: Record<(typeof METHODS)[number], string> = {
  full: 'full apply (DELTA=false)',
  delta: 'delta apply (DELTA=true, booted slot as seed)',
  casync: 'casync extract, v1 as seed (zstd chunk store)',
};
const SERIES_COLORS = ['#888', COLORS[0] as string, COLORS[1] as string];

export function drawDeltaPlot(bench: DeltaBench, rows: PairRow[]): string {
  const out: string[] = [];
  const schemes = rows.map((r) => `${r.kind} ${r.chunkScheme}`).join(', ');
  out.push(`<text x="${W / 2}" y="44" text-anchor="middle" font-size="11">${esc(`chunk index of the payloads (payload create's default): ${schemes}`)}</text>`);
  const groupLabel = (r: PairRow) => `${r.kind} ${(r.v2Bytes / 1048576).toFixed(0)} MiB`;
  const shares = rows.map((r) => METHODS.map((m) => (100 * r.methods[m].fetchedBytes) / r.methods.full.fetchedBytes));
  const a = axes(out, { x0: 70, ...PANEL }, 'Bytes fetched (% of the full payload)', '', '% of full', 1, 100, false);
  out.push(`<line x1="${a.x0}" x2="${a.x0 + a.width}" y1="${a.py(10)}" y2="${a.py(10)}" stroke="${LIMIT}" stroke-dasharray="4 3"/>`);
  groupedBars(
    out,
    a,
    rows.map((r, i) => ({ label: groupLabel(r), values: shares[i] as number[] })),
    SERIES_COLORS,
    (v) => `${v.toFixed(v < 10 ? 1 : 0)}%`,
  );
  legend(out, a, [...METHODS.map((m, i) => [LABELS[m], SERIES_COLORS[i] as string] as [string, string]), ['10% of full (target, ext4 and erofs)', LIMIT]], 35);
  const seconds = rows.map((r) => METHODS.map((m) => r.methods[m].seconds));
  const link = bench.rateBytesPerSecond ? `${(bench.rateBytesPerSecond / 1048576).toFixed(1)} MiB/s link` : 'loopback';
  const b = axes(
    out,
    { x0: 70 + PANEL.width + 100, ...PANEL },
    `Wall time (start to exit; ${link})`,
    '',
    'seconds',
    1,
    quarterMax(Math.max(0.1, ...seconds.flat())),
    false,
  );
  groupedBars(
    out,
    b,
    rows.map((r, i) => ({ label: groupLabel(r), values: seconds[i] as number[] })),
    SERIES_COLORS,
    (v) => v.toFixed(1),
  );
  const runs = bench.pairs[0]?.runs.full.length ?? 0;
  const title = `Delta updates: a 5%-changed /usr tree of ${(bench.tree.bytes / 1048576).toFixed(0)} MiB (${bench.machine.cpus} CPUs, shared; medians of ${runs})`;
  return svgDocument(W, H, title, out);
}
