// Wall-clock arithmetic in an IANA time zone with Intl only (pure): the local date and time of an
// instant, and the instant a local wall time happens. Daylight saving is handled as Temporal's
// "compatible" choice: a wall time skipped by a spring-forward jump moves forward by the gap; a wall
// time that happens twice (fall back) means its first occurrence.

const DAY_MS = 86_400_000;

/** A local calendar date (month 1-12) and its weekday (0 = Sunday). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A cached formatter for the zone; undefined zone = the process's local time (TZ). */
function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(key, f);
  }
  return f;
}

/** The wall-clock reading of `ms` in the zone, as if it were UTC (milliseconds dropped). */
function wallAsUtc(ms: number, timeZone: string | undefined): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const year = parts.year as number;
  return Date.UTC(year, (parts.month as number) - 1, parts.day, parts.hour, parts.minute, parts.second);
}

/** The zone's offset from UTC at instant `ms`, in ms (Europe/Berlin in summer: +7 200 000). */
export function zoneOffsetMs(ms: number, timeZone: string | undefined): number {
  return wallAsUtc(ms, timeZone) - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The local date of an instant in the zone. */
export function localDate(ms: number, timeZone: string | undefined): LocalDate {
  const d = new Date(wallAsUtc(ms, timeZone));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** The local date `days` after (or before, when negative) the given one. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** The instant the zone's wall clock reads `minuteOfDay` on `date` (see the header for DST gaps and repeats). */
export function zonedTimeToUtc(date: LocalDate, minuteOfDay: number, timeZone: string | undefined): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minuteOfDay);
  // The offsets in force a day before and a day after: a zone changes its offset at most once in between.
  const before = zoneOffsetMs(wall - DAY_MS, timeZone);
  const after = zoneOffsetMs(wall + DAY_MS, timeZone);
  const valid = [...new Set([before, after])].map((offset) => wall - offset).filter((t) => wallAsUtc(t, timeZone) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // Skipped by a jump forward: keep the offset from before the jump, which lands past the gap.
  return wall - before;
}
