// Draws img/bench-fleet.svg from bench/out/fleet.json (and fleet-no-queue.json when present):
// drain time per round against the ideal, with the safety and latency figures in the legend.
// Run: node bin/run-ts.js bench/fleet/plot.ts

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PALETTE, svgDocument, text } from '../../scripts/diagrams/svg.ts';

interface FleetRun {
  agents: number;
  max: number;
  rebootMs: number;
  etcdMembers: number;
  queueGraceMs: number;
  maxHoldersSeen: number;
  drainMs: number[];
  idealDrainMs: number;
  wakeLatencyMs: { median: number; p99: number };
  casConflicts: number[];
}

const out = new URL('../out/', import.meta.url);
const load = (name: string): FleetRun | undefined =>
  existsSync(new URL(name, out)) ? (JSON.parse(readFileSync(new URL(name, out), 'utf8')) as FleetRun) : undefined;

export function renderFleetPlot(queue: FleetRun, noQueue: FleetRun | undefined): string {
  const runs: Array<[string, FleetRun, string]> = [['waiting queue (default)', queue, '#4a90d9']];
  if (noQueue) runs.push(['every waiter races', noQueue, '#e0a040']);
  const W = 860;
  const H = 440;
  const x0 = 70;
  const y0 = 360;
  const plotW = 520;
  const plotH = 280;
  const rounds = queue.drainMs.length;
  const maxMs = Math.max(...runs.flatMap(([, r]) => r.drainMs), queue.idealDrainMs) * 1.1;
  const y = (ms: number) => y0 - (ms / maxMs) * plotH;
  const groupW = plotW / rounds;
  const barW = (groupW * 0.7) / runs.length;
  const body: string[] = [
    text(W / 2, 30, `Fleet reboot drain: ${queue.agents} agents, max ${queue.max} at once, ${queue.etcdMembers}-member etcd, ${queue.rebootMs} ms reboots`, {
      size: 16,
      weight: 'bold',
    }),
  ];
  body.push(
    `<line x1="${x0}" y1="${y0}" x2="${x0 + plotW}" y2="${y0}" stroke="${PALETTE.ink}"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 - plotH}" stroke="${PALETTE.ink}"/>`,
  );
  for (let t = 0; t <= maxMs; t += 1000) {
    body.push(`<line x1="${x0 - 4}" y1="${y(t)}" x2="${x0 + plotW}" y2="${y(t)}" stroke="#e4e7eb"/>`);
    body.push(text(x0 - 8, y(t) + 4, `${t / 1000} s`, { size: 11, anchor: 'end', fill: PALETTE.muted }));
  }
  runs.forEach(([, run, color], k) => {
    run.drainMs.forEach((ms, i) => {
      const bx = x0 + i * groupW + groupW * 0.15 + k * barW;
      body.push(`<rect x="${bx.toFixed(1)}" y="${y(ms).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y0 - y(ms)).toFixed(1)}" fill="${color}"/>`);
    });
  });
  for (let i = 0; i < rounds; i++) body.push(text(x0 + i * groupW + groupW / 2, y0 + 16, String(i + 1), { size: 11, fill: PALETTE.muted }));
  body.push(text(x0 + plotW / 2, y0 + 34, 'round', { size: 12, fill: PALETTE.muted }));
  body.push(`<line x1="${x0}" y1="${y(queue.idealDrainMs)}" x2="${x0 + plotW}" y2="${y(queue.idealDrainMs)}" stroke="#c0392b" stroke-dasharray="6,4"/>`);
  body.push(text(x0 + plotW - 4, y(queue.idealDrainMs) - 6, `ideal ${(queue.idealDrainMs / 1000).toFixed(1)} s`, { size: 11, anchor: 'end', fill: '#c0392b' }));
  let ly = 90;
  const lx = x0 + plotW + 30;
  for (const [label, run, color] of runs) {
    const conflicts = run.casConflicts.reduce((a, b) => a + b, 0) / run.casConflicts.length;
    body.push(`<rect x="${lx}" y="${ly - 11}" width="14" height="14" fill="${color}"/>`);
    body.push(text(lx + 22, ly, label, { size: 13, anchor: 'start', weight: 'bold' }));
    for (const line of [
      `most holders at once: ${run.maxHoldersSeen} (limit ${run.max})`,
      `wake-up after a release: ${run.wakeLatencyMs.median} ms median, ${run.wakeLatencyMs.p99} ms p99`,
      `failed CAS writes per round: ${conflicts.toFixed(0)}`,
    ]) {
      ly += 18;
      body.push(text(lx + 22, ly, line, { size: 11, anchor: 'start', fill: PALETTE.muted }));
    }
    ly += 36;
  }
  return svgDocument(W + 180, H, body, 'Fleet reboot drain benchmark');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const queue = load('fleet.json');
  if (!queue) {
    process.stderr.write('bench/out/fleet.json is missing: run node bin/run-ts.js bench/fleet/run.ts first\n');
    process.exit(1);
  }
  writeFileSync(new URL('../../img/bench-fleet.svg', import.meta.url), renderFleetPlot(queue, load('fleet-no-queue.json')));
  process.stdout.write('wrote img/bench-fleet.svg\n');
}
