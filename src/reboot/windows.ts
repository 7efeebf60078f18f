// Reboot windows, pure: whether an instant is inside one of the configured windows and when the next
// one opens, in an IANA time zone (REBOOT_TIMEZONE; local time when unset). A window opens at its local
// wall time on each of its weekdays and lasts durationMs of real time (so across a DST change a 3h
// window is still 3 hours long). No windows means "any time".

import { formatDuration, type RebootWindow } from '../config/values.ts';
import { addDays, localDate, zonedTimeToUtc, type LocalDate } from './zoned-time.ts';

export type { RebootWindow } from '../config/values.ts';

const DAY_MS = 86_400_000;
/** Weekly windows recur within 7 local days; one more day covers DST shifts at the edges. */
const SEARCH_DAYS = 8;

function opensOn(window: RebootWindow, date: LocalDate): boolean {
  return window.days === null || window.days.includes(date.weekday);
}

/** The latest opening of `window` at or before `nowMs`, if any within the search range. */
function latestStart(window: RebootWindow, timeZone: string | undefined, nowMs: number): number | undefined {
  const today = localDate(nowMs, timeZone);
  for (let k = 0; k <= SEARCH_DAYS; k++) {
    const date = addDays(today, -k);
    if (!opensOn(window, date)) continue;
    const start = zonedTimeToUtc(date, window.startMinute, timeZone);
    if (start <= nowMs) return start;
  }
  return undefined;
}

/** The earliest opening of `window` strictly after `nowMs`. */
function nextStart(window: RebootWindow, timeZone: string | undefined, nowMs: number): number | undefined {
  const today = localDate(nowMs, timeZone);
  for (let k = -1; k <= SEARCH_DAYS; k++) {
    const date = addDays(today, k);
    if (!opensOn(window, date)) continue;
    const start = zonedTimeToUtc(date, window.startMinute, timeZone);
    if (start > nowMs) return start;
  }
  return undefined;
}

/**
 * Whether `nowMs` is inside a window (always, with none configured). Only each window's latest opening matters: an earlier one of the
 * same length ends no later.
 */
export function isInWindow(windows: readonly RebootWindow[], timeZone: string | undefined, nowMs: number): boolean {
  if (windows.length === 0) return true;
  return currentWindowEnd(windows, timeZone, nowMs) !== undefined;
}

/** When the window(s) we are in close (the latest end); undefined outside every window or with none configured. */
export function currentWindowEnd(windows: readonly RebootWindow[], timeZone: string | undefined, nowMs: number): number | undefined {
  let end: number | undefined;
  for (const w of windows) {
    const start = latestStart(w, timeZone, nowMs);
    if (start !== undefined && nowMs < start + w.durationMs) end = Math.max(end ?? 0, start + w.durationMs);
  }
  return end;
}

/** When the next window opens (strictly after nowMs); undefined when no windows are configured. */
export function nextWindowStart(windows: readonly RebootWindow[], timeZone: string | undefined, nowMs: number): number | undefined {
  let next: number | undefined;
  for (const w of windows) {
    const start = nextStart(w, timeZone, nowMs);
    if (start !== undefined && (next === undefined || start < next)) next = start;
  }
  return next;
}

/** How long to wait for a window: 0 inside one (or with none configured), else until the next opening. */
export function msUntilWindow(windows: readonly RebootWindow[], timeZone: string | undefined, nowMs: number): number {
  if (windows.length === 0 || isInWindow(windows, timeZone, nowMs)) return 0;
  const next = nextWindowStart(windows, timeZone, nowMs);
  return next === undefined ? DAY_MS : next - nowMs;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** For logs and messages: "Mon,Tue 02:00 for 1h; daily 04:00 for 30m (Europe/Berlin)". */
export function describeWindows(windows: readonly RebootWindow[], timeZone: string | undefined): string {
  if (windows.length === 0) return 'any time';
  const clock = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  const one = (w: RebootWindow) =>
    `${w.days === null ? 'daily' : w.days.map((d) => DAY_NAMES[d]).join(',')} ${clock(w.startMinute)} for ${formatDuration(w.durationMs)}`;
  return `${windows.map(one).join('; ')} (${timeZone ?? 'local time'})`;
}
