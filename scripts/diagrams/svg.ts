// A tiny SVG writer for the README's diagrams: boxes, arrows and text, no dependencies.

export interface Box {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  lines?: string[];
  fill?: string;
}

export const PALETTE = {
  ink: '#1f2933',
  muted: '#52606d',
  line: '#7b8794',
  box: '#f5f7fa',
  accent: '#d9e8fb',
  good: '#dff5e3',
  warn: '#fff4d6',
  bad: '#fde2e1',
};

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function text(x: number, y: number, s: string, opts: { size?: number; weight?: string; anchor?: string; fill?: string; family?: string } = {}): string {
  return `<text x="${x}" y="${y}" font-family="${opts.family ?? 'Helvetica, Arial, sans-serif'}" font-size="${opts.size ?? 13}" font-weight="${opts.weight ?? 'normal'}" text-anchor="${opts.anchor ?? 'middle'}" fill="${opts.fill ?? PALETTE.ink}">${escapeXml(s)}</text>`;
}

export function box(b: Box): string {
  const parts = [
    `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8" ry="8" fill="${b.fill ?? PALETTE.box}" stroke="${PALETTE.line}" stroke-width="1.2"/>`,
  ];
  const lines = b.lines ?? [];
  const total = 18 + lines.length * 16;
  let y = b.y + (b.h - total) / 2 + 14;
  parts.push(text(b.x + b.w / 2, y, b.title, { weight: 'bold', size: 14 }));
  for (const l of lines) {
    y += 16;
    parts.push(text(b.x + b.w / 2, y, l, { size: 12, fill: PALETTE.muted }));
  }
  return parts.join('\n');
}

/** A straight or elbowed arrow between points, with an optional label beside its middle. */
export function arrow(
  points: Array<[number, number]>,
  label?: string,
  opts: { dashed?: boolean; labelDx?: number; labelDy?: number; color?: string } = {},
): string {
  const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x},${y}`).join(' ');
  const color = opts.color ?? PALETTE.line;
  const out = [`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"${opts.dashed ? ' stroke-dasharray="5,4"' : ''} marker-end="url(#arrow)"/>`];
  if (label) {
    const mid = Math.floor((points.length - 1) / 2);
    const [x1, y1] = points[mid] as [number, number];
    const [x2, y2] = points[mid + 1] as [number, number];
    out.push(text((x1 + x2) / 2 + (opts.labelDx ?? 6), (y1 + y2) / 2 + (opts.labelDy ?? 4), label, { size: 11, anchor: 'start', fill: PALETTE.muted }));
  }
  return out.join('\n');
}

export function svgDocument(width: number, height: number, body: string[], title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
