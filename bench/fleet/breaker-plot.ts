// Draws img/bench-fleet-breaker.svg from bench/out/fleet-breaker.json: one row per machine over time
// (old version, downloading, installed and waiting for the lock, booted the bad version, updated),
// with the health failure, the undone flips, the moment the fleet stopped and the resume marked.
// Run: node bin/run-ts.js bench/fleet/breaker-plot.ts

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PALETTE, svgDocument, text } from '../../scripts/diagrams/svg.ts';
import type { FleetEvent } from '../../test/helpers/fleet-scenario.ts';

interface BreakerRun {
  machines: number;
  bootedBadVersion: number;
  firstHealthFailureMs?: number;
  fleetStoppedMs?: number;
  stopAfterFirstFailureMs?: number;
  rebootMs: number;
  healthCheckMs: number;
  phase1SettledMs: number;
  resumedMs: number;
  allUpdatedMs: number;
  updatedToFixed: number;
  events: FleetEvent[];
}

type Phase = 'old' | 'downloading' | 'waiting' | 'down' | 'bad' | 'new';
const COLORS: Record<Phase, string> = { old: '#cbd2d9', downloading: '#4a90d9', waiting: '#f0c05a', down: '#52606d', bad: '#c0392b', new: '#3c9d5d' };
const LABELS: Record<Phase, string> = {
  old: 'running 1.0.0',
  downloading: 'downloading',
  waiting: 'installed, waiting for the lock',
  down: 'rebooting (holding the lock)',
  bad: 'booted 2.0.0 (health check fails)',
  new: 'running 2.0.1',
};

/** The phase a machine enters with an event (undefined: no change). */
function phaseAfter(e: FleetEvent, bad: string): Phase | undefined {
  switch (e.kind) {
    case 'downloading':
      return 'downloading';
    case 'need-reboot':
      return 'waiting';
    case 'rebooting':
      return 'down';
    case 'boot':
      return e.version === bad ? 'bad' : 'new';
    case 'rolled-back':
    case 'halted':
      return 'old';
    default:
      return undefined;
  }
}

/** Each machine's phases as [phase, fromMs, toMs], from the events. */
function segmentsOf(run: BreakerRun, m: number, bad: string): Array<[Phase, number, number]> {
  let phase: Phase = 'old';
  let since = 0;
  const segments: Array<[Phase, number, number]> = [];
  for (const e of run.events.filter((ev) => ev.machine === m)) {
    const next = phaseAfter(e, bad);
    if (next === undefined || next === phase) continue;
    segments.push([phase, since, e.atMs]);
    phase = next;
    since = e.atMs;
  }
  segments.push([phase, since, run.allUpdatedMs]);
  return segments;
}

export function renderBreakerPlot(run: BreakerRun, bad = '2.0.0'): string {
  const x0 = 100;
  const rowH = 30;
  const y0 = 80;
  const yEnd = y0 + run.machines * rowH;
  // Two panels on their own time scales: the bad release until the fleet settled, then resume + the fix.
  const panels = [
    { title: `${bad} released (max 1 reboot at once)`, from: 0, to: run.phase1SettledMs, left: x0, width: 380 },
    { title: 'locksmithctl resume, then 2.0.1', from: run.resumedMs, to: run.allUpdatedMs, left: x0 + 410, width: 250 },
  ];
  const W = x0 + 410 + 250 + 320;
  const body: string[] = [
    text(W / 2, 28, `Fleet circuit breaker: ${run.machines} machines on one etcd lock, ${bad} fails its health check`, { size: 16, weight: 'bold' }),
  ];
  for (let m = 0; m < run.machines; m++) body.push(text(x0 - 10, y0 + m * rowH + 16, `machine ${m + 1}`, { size: 12, anchor: 'end' }));
  for (const p of panels) {
    const x = (ms: number) => p.left + ((Math.min(p.to, Math.max(p.from, ms)) - p.from) / (p.to - p.from)) * p.width;
    body.push(text(p.left + p.width / 2, y0 - 14, p.title, { size: 12, fill: PALETTE.muted }));
    for (let m = 0; m < run.machines; m++) {
      const y = y0 + m * rowH;
      for (const [phase, a, b] of segmentsOf(run, m, bad)) {
        if (b < p.from || a > p.to) continue;
        body.push(`<rect x="${x(a).toFixed(1)}" y="${y + 3}" width="${Math.max(1.5, x(b) - x(a)).toFixed(1)}" height="${rowH - 8}" fill="${COLORS[phase]}"/>`);
      }
      for (const e of run.events.filter((ev) => ev.machine === m && ev.atMs >= p.from && ev.atMs <= p.to)) {
        const cx = x(e.atMs);
        const cy = y + rowH / 2 - 1;
        if (e.kind === 'health-failed')
          body.push(
            `<path d="M${cx - 5} ${cy - 5} L${cx + 5} ${cy + 5} M${cx - 5} ${cy + 5} L${cx + 5} ${cy - 5}" stroke="${PALETTE.ink}" stroke-width="2.5"/>`,
          );
        if (e.kind === 'halted') body.push(`<rect x="${cx - 4}" y="${cy - 4}" width="8" height="8" fill="${PALETTE.ink}"/>`);
      }
    }
    const step = (p.to - p.from) / 1000 > 6 ? 2 : 1;
    for (let s = Math.ceil(p.from / 1000); s <= p.to / 1000; s += step) body.push(text(x(s * 1000), yEnd + 44, `${s} s`, { size: 10, fill: PALETTE.muted }));
    const mark = (ms: number | undefined, label: string, color: string, anchor: string) => {
      if (ms === undefined || ms < p.from || ms > p.to) return;
      body.push(`<line x1="${x(ms)}" y1="${y0 - 4}" x2="${x(ms)}" y2="${yEnd + 2}" stroke="${color}" stroke-dasharray="4,3"/>`);
      body.push(text(x(ms) + (anchor === 'end' ? -3 : 3), yEnd + 16, label, { size: 11, fill: color, anchor }));
    };
    mark(run.firstHealthFailureMs, 'first failure', '#c0392b', 'end');
    mark(run.fleetStoppedMs, 'fleet stopped', PALETTE.ink, 'start');
  }
  let ly = y0 + 6;
  const lx = x0 + 410 + 250 + 24;
  for (const ph of Object.keys(COLORS) as Phase[]) {
    body.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="12" fill="${COLORS[ph]}"/>`);
    body.push(text(lx + 20, ly, LABELS[ph], { size: 11, anchor: 'start' }));
    ly += 18;
  }
  body.push(`<path d="M${lx + 2} ${ly - 9} L${lx + 12} ${ly + 1} M${lx + 2} ${ly + 1} L${lx + 12} ${ly - 9}" stroke="${PALETTE.ink}" stroke-width="2.5"/>`);
  body.push(text(lx + 20, ly, 'health check failed: reboot, fall back', { size: 11, anchor: 'start' }));
  ly += 18;
  body.push(`<rect x="${lx + 3}" y="${ly - 8}" width="8" height="8" fill="${PALETTE.ink}"/>`);
  body.push(text(lx + 20, ly, 'breaker: flip undone, back to IDLE', { size: 11, anchor: 'start' }));
  ly += 26;
  for (const line of [
    `booted ${bad}: ${run.bootedBadVersion} of ${run.machines}`,
    `fleet stopped ${run.stopAfterFirstFailureMs ?? '?'} ms after the first failure`,
    `(simulated reboots ${run.rebootMs} ms, health checks ${run.healthCheckMs} ms)`,
    `after resume: ${run.updatedToFixed} of ${run.machines} on 2.0.1`,
  ]) {
    body.push(text(lx, ly, line, { size: 11, anchor: 'start', fill: PALETTE.muted }));
    ly += 16;
  }
  return svgDocument(W, yEnd + 64, body, 'Fleet circuit breaker benchmark');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const file = new URL('../out/fleet-breaker.json', import.meta.url);
  if (!existsSync(file)) {
    process.stderr.write('bench/out/fleet-breaker.json is missing: run node bin/run-ts.js bench/fleet/breaker.ts first\n');
    process.exit(1);
  }
  writeFileSync(new URL('../../img/bench-fleet-breaker.svg', import.meta.url), renderBreakerPlot(JSON.parse(readFileSync(file, 'utf8')) as BreakerRun));
  process.stdout.write('wrote img/bench-fleet-breaker.svg\n');
}
