// Parsers for the typed values of settings: sizes (K/M/G), Go durations, semver-like versions,
// locksmith reboot windows. Pure; each throws ValueError with what was expected.

export class ValueError extends Error {
  override readonly name = 'ValueError';
}

/** "40M" -> 41943040. Plain bytes, or K/M/G (powers of 1024), optional trailing "B"/"iB". */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new ValueError('expected a size in bytes, optionally with K, M or G (powers of 1024), e.g. 40M');
  const unit = (m[2] ?? '').toUpperCase();
  const power = unit === '' ? 0 : 'KMGT'.indexOf(unit) + 1;
  const bytes = Math.round(Number(m[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes)) throw new ValueError('size is too large');
  return bytes;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go duration syntax ("1h30m", "90s", "1.5h", "0") -> milliseconds. Negative durations are refused. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length) {
    throw new ValueError('expected a duration in Go syntax, e.g. 1h30m, 45m or 90s');
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw new ValueError('duration is too large');
  return ms;
}

/** Formats milliseconds in Go duration syntax (the inverse of parseDuration for whole units). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

/** A semver-like version: one to three numbers, optional -prerelease and +build. */
export interface Version {
  numbers: [number, number, number];
  prerelease: string[];
  build: string;
  text: string;
}

const VERSION_PATTERN = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function parseVersion(text: string): Version {
  const m = VERSION_PATTERN.exec(text.trim());
  if (!m) throw new ValueError('expected a semver-like version: one to three dot-separated numbers, optionally -pre and +build, e.g. 3374.2.0');
  return {
    numbers: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)],
    prerelease: m[4] ? m[4].split('.') : [],
    build: m[5] ?? '',
    text: text.trim(),
  };
}

export function isVersion(text: string): boolean {
  return VERSION_PATTERN.test(text.trim());
}

function comparePrerelease(a: string[], b: string[]): number {
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0) return 1; // a release sorts after its prereleases
  if (b.length === 0) return -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** Semver precedence: negative when a < b, 0 when equal (build metadata ignored), positive when a > b. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const va = typeof a === 'string' ? parseVersion(a) : a;
  const vb = typeof b === 'string' ? parseVersion(b) : b;
  for (let i = 0; i < 3; i++) {
    const d = (va.numbers[i] as number) - (vb.numbers[i] as number);
    if (d !== 0) return Math.sign(d);
  }
  return comparePrerelease(va.prerelease, vb.prerelease);
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FULL_DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** "Thu" or "thursday" -> 4 (0 = Sunday). */
export function parseWeekday(text: string): number {
  const t = text.trim().toLowerCase();
  const i = DAY_NAMES.indexOf(t);
  if (i >= 0) return i;
  const j = FULL_DAY_NAMES.indexOf(t);
  if (j >= 0) return j;
  throw new ValueError(`unknown weekday "${text}" (expected Sun, Mon, Tue, Wed, Thu, Fri or Sat)`);
}

/** A recurring reboot window: on the given weekdays (all when null), from startMinute for durationMs. */
export interface RebootWindow {
  /** Weekdays the window opens on, 0 = Sunday; null = every day. */
  days: number[] | null;
  /** Minutes after local midnight (in the window's time zone) when it opens. */
  startMinute: number;
  durationMs: number;
  /** The text it was parsed from. */
  text: string;
}

function parseClock(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) throw new ValueError(`expected a time HH:MM, got "${text}"`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) throw new ValueError(`time "${text}" is out of range (00:00 to 23:59)`);
  return h * 60 + min;
}

function parseDays(text: string): number[] {
  const parts = text.split('-');
  if (parts.length === 1) return [parseWeekday(text)];
  if (parts.length !== 2) throw new ValueError(`expected Day or Day-Day, got "${text}"`);
  const from = parseWeekday(parts[0] as string);
  const to = parseWeekday(parts[1] as string);
  const days: number[] = [];
  for (let d = from; ; d = (d + 1) % 7) {
    days.push(d);
    if (d === to) break;
  }
  return days;
}

/** locksmith's window start, `[Day ]HH:MM` ("Thu 04:00", "04:00"), with a length. */
export function parseLocksmithWindow(start: string, lengthMs: number): RebootWindow {
  const parts = start.trim().split(/\s+/);
  if (parts.length > 2 || parts[0] === '') throw new ValueError('expected a window start as [Day ]HH:MM, e.g. "Thu 04:00" or "04:00"');
  const clock = parts[parts.length - 1] as string;
  const days = parts.length === 2 ? [parseWeekday(parts[0] as string)] : null;
  if (lengthMs <= 0) throw new ValueError('window length must be greater than 0');
  return { days, startMinute: parseClock(clock), durationMs: lengthMs, text: start.trim() };
}

function parseOneWindow(part: string): RebootWindow {
  const tokens = part.split(/\s+/);
  if (tokens.length < 2 || tokens.length > 3) throw new ValueError('wrong number of fields');
  const duration = parseDuration(tokens[tokens.length - 1] as string);
  if (duration <= 0) throw new ValueError('no length');
  if (duration > 7 * 24 * 3_600_000) throw new ValueError('longer than a week');
  const days = tokens.length === 3 ? parseDays(tokens[0] as string) : null;
  return { days, startMinute: parseClock(tokens[tokens.length - 2] as string), durationMs: duration, text: part };
}

/** REBOOT_WINDOWS: `;`-separated, each `[Day[-Day] ]HH:MM DURATION`, e.g. "Mon-Fri 02:00 1h; Sat 04:00 3h". */
export function parseRebootWindows(text: string): RebootWindow[] {
  const windows: RebootWindow[] = [];
  for (const rawPart of text.split(';')) {
    const part = rawPart.trim();
    if (part === '') continue;
    try {
      windows.push(parseOneWindow(part));
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      throw new ValueError(`window "${part}": ${e.message} (each window is "[Day[-Day] ]HH:MM DURATION", e.g. "Mon-Fri 02:00 1h30m")`);
    }
  }
  if (windows.length === 0) throw new ValueError('expected at least one window');
  return windows;
}

/** "true"/"yes"/"1"/"on" and "false"/"no"/"0"/"off", any case. */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(t)) return true;
  if (['false', 'no', '0', 'off', ''].includes(t)) return false;
  throw new ValueError('expected true or false');
}

/** A checked IANA time zone name ("Europe/Berlin", "UTC"). */
export function parseTimeZone(text: string): string {
  const t = text.trim();
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: t }).resolvedOptions().timeZone;
  } catch {
    throw new ValueError('expected an IANA time zone name, e.g. UTC or Europe/Berlin');
  }
}
