// locksmithctl's output, pure: locksmith's exact lines for status and set-max, then (as this
// project's extension, after a blank line so the documented lines stay as they were) each
// holder's age and liveness.

import { formatDuration } from '../config/values.ts';
import type { LockSnapshot } from './lock-snapshot.ts';

/** locksmith's status lines: "Available: N", "Max: M", and with holders a blank line, "MACHINE ID", one id per line. */
export function formatLocksmithStatus(snapshot: LockSnapshot): string[] {
  const lines = [`Available: ${snapshot.semaphore.semaphore}`, `Max: ${snapshot.semaphore.max}`];
  if (snapshot.semaphore.holders.length > 0) lines.push('', 'MACHINE ID', ...snapshot.semaphore.holders);
  return lines;
}

/** How a holder is kept alive, as status shows it. */
export function holderLiveness(h: LockSnapshot['holders'][number]): string {
  if (h.record === undefined) return 'unknown (no record: locksmith?)';
  if (!h.record.liveness) return 'manual (locksmithctl lock)';
  return h.alive ? 'alive' : 'gone';
}

/**
 * The extension: a table of holders with how long each has held its slot and its liveness.
 * Empty without holders.
 */
export function formatHolderDetails(snapshot: LockSnapshot, nowMs: number): string[] {
  if (snapshot.holders.length === 0) return [];
  const rows = snapshot.holders.map((h) => {
    const age = h.record === undefined ? 'unknown' : formatDuration(Math.max(0, Math.floor((nowMs - h.record.lockedAtMs) / 1000) * 1000));
    return [h.id, age, holderLiveness(h)] as const;
  });
  const header = ['HOLDER', 'HELD FOR', 'LIVENESS'] as const;
  const widths = [0, 1].map((i) => Math.max(header[i as 0 | 1].length, ...rows.map((r) => r[i as 0 | 1].length)));
  const line = (r: readonly [string, string, string]) => `${r[0].padEnd(widths[0] as number)}  ${r[1].padEnd(widths[1] as number)}  ${r[2]}`;
  return ['', line(header), ...rows.map(line)];
}

/** locksmith's set-max lines. */
export function formatSetMax(oldMax: number, max: number): string[] {
  return [`Old-Max: ${oldMax}`, `Max: ${max}`];
}
