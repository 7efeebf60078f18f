// Draws img/bench-apply.svg from the benchmark's figures: throughput against curl|dd, the daemon's
// RSS over a run of each size, and the write rate over time under IO_WRITE_BPS. Plain SVG text.

import { axes, COLORS, LIMIT, legend, niceMax, svgDocument, type Axes } from './svg.ts';
import type { BenchResults, Summary } from './summary.ts';

const MiB = 1024 * 1024;
const W = 1110;
const H = 470;
const PANEL_W = 310;
const PANEL_H = 270;
const TOP = 70;

const sizeLabel = (bytes: number) => (bytes >= 1024 * MiB ? `${Number((bytes / 1024 / MiB).toFixed(1))} GiB` : `${Math.round(bytes / MiB)} MiB`);

function panel(out: string[], index: number, title: string, xLabel: string, yLabel: string, xMax: number, yMax: number, xTicks: boolean): Axes {
  return axes(out, { x0: 70 + index * (PANEL_W + 50), top: TOP, width: PANEL_W, height: PANEL_H }, title, xLabel, yLabel, xMax, yMax, xTicks);
}

function polyline(points: [number, number][], a: Axes, color: string, dash = ''): string {
  const d = points.map(([x, y]) => `${a.px(x).toFixed(1)},${a.py(y).toFixed(1)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="1.6"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

/** Rate over time from cumulative [ms, bytes] samples, averaged over windows of `windowMs`. */
function rateSeries(samples: readonly [number, number][], windowMs: number): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (const [t, b] of samples) {
    while (j < samples.length && t - (samples[j] as [number, number])[0] > windowMs) j++;
    const [t0, b0] = samples[Math.max(0, j - 1)] as [number, number];
    if (t - t0 >= windowMs * 0.9) out.push([t / 1000, ((b - b0) * 1000) / (t - t0) / MiB]);
  }
  return out;
}

export function drawApplyPlot(summary: Summary, bench: BenchResults): string {
  const out: string[] = [];
  // 1. Throughput: baseline and engine (the daemon's apply), medians, with the ratio under each group.
  const rows = summary.rows;
  const tMax = niceMax(Math.max(1, ...rows.flatMap((r) => [r.engineMiBps, r.baselineMiBps])));
  const a = panel(out, 0, 'Throughput (median)', '', 'MiB/s', 1, tMax, false);
  const groupW = PANEL_W / Math.max(1, rows.length);
  const bars: ['baselineMiBps' | 'engineMiBps', string, string][] = [
    ['baselineMiBps', '#888', 'curl | dd conv=fsync'],
    ['engineMiBps', COLORS[0] as string, 'update-engine daemon --once (apply)'],
  ];
  rows.forEach((r, i) => {
    const gx = a.x0 + i * groupW;
    const bw = (groupW - 16) / bars.length;
    bars.forEach(([key, color], k) => {
      const v = r[key];
      out.push(
        `<rect x="${(gx + 8 + k * bw).toFixed(1)}" y="${a.py(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(a.y0 - a.py(v)).toFixed(1)}" fill="${color}"/>`,
      );
    });
    out.push(
      `<line x1="${gx + 6}" x2="${gx + groupW - 6}" y1="${a.py(0.9 * r.baselineMiBps)}" y2="${a.py(0.9 * r.baselineMiBps)}" stroke="${LIMIT}" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${gx + groupW / 2}" y="${a.y0 + 14}" text-anchor="middle" font-size="10">${sizeLabel(r.sizeBytes)} ${r.target === 'file-region' ? 'file' : 'loop'}</text>`,
    );
    out.push(`<text x="${gx + groupW / 2}" y="${a.y0 + 26}" text-anchor="middle" font-size="10">${r.ratio.toFixed(2)}x</text>`);
  });
  legend(out, a, [...bars.map(([, c, l]) => [l, c] as [string, string]), ['0.9x curl | dd (target)', LIMIT]]);

  // 2. RSS of the daemon process from its start, one line per size (first target, first round).
  const first = bench.results[0]?.target;
  const rssRuns = bench.results.filter((r) => r.target === first).map((r) => ({ size: r.sizeBytes, run: r.rounds[0]?.engine }));
  const rssXMax = niceMax(Math.max(1, ...rssRuns.map((r) => (r.run?.totalMs ?? 0) / 1000)));
  const rssYMax = niceMax(Math.max(160, ...rssRuns.flatMap((r) => (r.run?.rssSamples ?? []).map(([, v]) => v / 1e6))));
  const b = panel(out, 1, 'Daemon RSS (start to exit)', 'seconds', 'RSS (MB)', rssXMax, rssYMax, true);
  rssRuns.forEach((r, i) => {
    out.push(
      polyline(
        (r.run?.rssSamples ?? []).map(([t, v]) => [t / 1000, v / 1e6]),
        b,
        COLORS[i] as string,
      ),
    );
  });
  out.push(`<line x1="${b.x0}" x2="${b.x0 + PANEL_W}" y1="${b.py(150)}" y2="${b.py(150)}" stroke="${LIMIT}" stroke-dasharray="4 3"/>`);
  legend(out, b, [...rssRuns.map((r, i) => [`${sizeLabel(r.size)} image`, COLORS[i] as string] as [string, string]), ['150 MB (target)', LIMIT]]);

  // 3. Write rate over time under IO_WRITE_BPS (1 s windows), where it is measured best.
  const thr = bench.throttled;
  const limit = (thr[0]?.limitBytesPerSecond ?? 0) / MiB;
  const series = thr.map((t, i) => {
    const row = summary.throttle[i];
    const samples = t.run.deviceSamples ?? t.run.cgroupSamples ?? t.run.writeSamples;
    const t0 = samples.find(([, v]) => v > (samples[0]?.[1] ?? 0))?.[0] ?? 0;
    return {
      label: `${t.run.mechanism}, ${t.target === 'file-region' ? 'file' : 'loop'} (at the ${row?.measuredAt ?? 'page cache'})`,
      points: rateSeries(samples, 1000).map(([x, y]): [number, number] => [Math.max(0, x - t0 / 1000), y]),
    };
  });
  const cXMax = niceMax(Math.max(1, ...series.flatMap((s) => s.points.map(([x]) => x))));
  const cYMax = niceMax(Math.max(limit * 1.25, ...series.flatMap((s) => s.points.map(([, y]) => y))));
  const c = panel(out, 2, `Write rate at IO_WRITE_BPS=${limit}M`, 'seconds (1 s windows)', 'MiB/s', cXMax, cYMax, true);
  series.forEach((s, i) => {
    out.push(polyline(s.points, c, COLORS[i] as string));
  });
  out.push(`<line x1="${c.x0}" x2="${c.x0 + PANEL_W}" y1="${c.py(limit)}" y2="${c.py(limit)}" stroke="${LIMIT}" stroke-dasharray="4 3"/>`);
  legend(out, c, [...series.map((s, i) => [s.label, COLORS[i] as string] as [string, string]), [`limit ${limit} MiB/s`, LIMIT]]);

  const m = bench.machine;
  const title = `update-engine apply benchmark (${m.cpus} CPUs, Node ${m.node}, load ${m.loadAverage.start[0]?.toFixed(1)}-${m.loadAverage.end[0]?.toFixed(1)})`;
  return svgDocument(W, H, title, out);
}
