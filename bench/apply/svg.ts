// Plain-SVG drawing pieces the benchmark plots share (bench/apply, bench/peers, bench/delta): a framed
// panel with a y grid, a legend under it, grouped bars with their values, and the document around.

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
export const LIMIT = '#d62728';

export const tick = (v: number) => String(Number(v.toFixed(v >= 10 ? 0 : v >= 1 ? 1 : 2)));
export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The next "round" number at or above v (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A top at or above v whose quarters (the grid lines) are round numbers: 4 x (1, 2, 2.5 or 5 times a power of ten). */
export function quarterMax(v: number): number {
  if (!(v > 0)) return 1;
  const step = v / 4;
  const p = 10 ** Math.floor(Math.log10(step));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= step) return 4 * m * p;
  return 40 * p;
}

/** Where a panel's frame is: left edge, top edge, width and height in pixels. */
export interface Frame {
  x0: number;
  top: number;
  width: number;
  height: number;
}

export interface Axes {
  x0: number;
  y0: number;
  width: number;
  xMax: number;
  yMax: number;
  px: (x: number) => number;
  py: (y: number) => number;
}

/** Draws the frame, title, y grid with ticks (x ticks when asked) and axis labels; returns the scales. */
export function axes(out: string[], f: Frame, title: string, xLabel: string, yLabel: string, xMax: number, yMax: number, xTicks: boolean): Axes {
  const { x0, top, width, height } = f;
  const y0 = top + height;
  const px = (x: number) => x0 + (x / xMax) * width;
  const py = (y: number) => y0 - (y / yMax) * height;
  out.push(`<text x="${x0 + width / 2}" y="${top - 12}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 5}" y="${py(y) + 4}" text-anchor="end" font-size="11">${tick(y)}</text>`);
    if (xTicks) out.push(`<text x="${px((xMax * i) / 4)}" y="${y0 + 15}" text-anchor="middle" font-size="11">${tick((xMax * i) / 4)}</text>`);
  }
  out.push(`<text x="${x0 + width / 2}" y="${y0 + 32}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(
    `<text x="${x0 - 48}" y="${top + height / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 - 48} ${top + height / 2})">${esc(yLabel)}</text>`,
  );
  return { x0, y0, width, xMax, yMax, px, py };
}

/** A legend below the panel, one item a line from `offset` pixels under its frame. */
export function legend(out: string[], a: Axes, items: [string, string][], offset = 50): void {
  items.forEach(([label, color], i) => {
    const y = a.y0 + offset + i * 15;
    out.push(`<rect x="${a.x0 + 8}" y="${y - 9}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${a.x0 + 22}" y="${y}" font-size="11">${esc(label)}</text>`);
  });
}

export interface BarGroup {
  /** Under the group. */
  label: string;
  /** One bar per series (NaN: no bar). */
  values: number[];
}

/** Groups of bars side by side across the panel, each bar with its value above it (`format`); bars above yMax are cut. */
export function groupedBars(out: string[], a: Axes, groups: BarGroup[], colors: string[], format: (v: number) => string): void {
  const groupW = a.width / Math.max(1, groups.length);
  groups.forEach((g, i) => {
    const gx = a.x0 + i * groupW;
    const bw = (groupW - 16) / Math.max(1, g.values.length);
    g.values.forEach((v, k) => {
      if (!Number.isFinite(v)) return;
      const x = gx + 8 + k * bw;
      const y = a.py(Math.min(v, a.yMax));
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(a.y0 - y).toFixed(1)}" fill="${colors[k] ?? '#888'}"/>`,
      );
      // A bar cut at the top carries its value inside, in white.
      const cut = v > a.yMax;
      out.push(
        `<text x="${(x + (bw - 2) / 2).toFixed(1)}" y="${(cut ? y + 12 : y - 3).toFixed(1)}" text-anchor="middle" font-size="9"${cut ? ' fill="white"' : ''}>${esc(format(v))}</text>`,
      );
    });
    out.push(`<text x="${gx + groupW / 2}" y="${a.y0 + 14}" text-anchor="middle" font-size="10">${esc(g.label)}</text>`);
  });
}

/** The SVG document: white background, a bold title line, then the body. */
export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
