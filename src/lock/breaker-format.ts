// locksmithctl's view of the fleet circuit breaker, pure: after locksmith's own status lines (and the
// holder table), a blank line and one row per version with failures or a halt, each failure below it.

import { haltOf, type BreakerView } from './circuit-breaker.ts';

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : 'unknown time');

/**
 * The breaker's lines: empty when no version has failures or a halt. A version is "halted" when an
 * operator halted it or it has `threshold` failures, else "watching" (failures below the threshold).
 */
export function formatBreakerStatus(view: BreakerView, threshold: number): string[] {
  if (view.size === 0) return [];
  const versions = [...view.values()].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const rows = versions.map((v) => {
    const halted = haltOf(view, v.version, threshold) !== undefined;
    const state = halted ? (v.halt ? `halted by ${v.halt.by} at ${iso(v.halt.haltedAtMs)}` : 'halted') : 'watching';
    return { v, cells: [v.version, String(v.failures.length), state] as const };
  });
  const header = ['VERSION', 'FAILURES', 'STATE'] as const;
  const w0 = Math.max(header[0].length, ...rows.map((r) => r.cells[0].length));
  const w1 = Math.max(header[1].length, ...rows.map((r) => r.cells[1].length));
  const line = (c: readonly [string, string, string]) => `${c[0].padEnd(w0)}  ${c[1].padEnd(w1)}  ${c[2]}`;
  const out = ['', `FLEET CIRCUIT BREAKER (FLEET_FAILURE_THRESHOLD=${threshold})`, line(header)];
  for (const r of rows) {
    out.push(line(r.cells));
    for (const f of r.v.failures) out.push(`  failed on ${f.machineId}: ${f.code} at ${iso(f.failedAtMs)}`);
  }
  return out;
}
