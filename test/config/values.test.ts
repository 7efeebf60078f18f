import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  formatDuration,
  parseBoolean,
  parseDuration,
  parseLocksmithWindow,
  parseRebootWindows,
  parseSize,
  parseTimeZone,
  parseVersion,
  ValueError,
} from '../../src/config/values.ts';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['1024', 1024],
    ['1K', 1024],
    ['40M', 40 * 1024 * 1024],
    ['40m', 40 * 1024 * 1024],
    ['2G', 2 * 1024 ** 3],
    ['1.5M', 1.5 * 1024 * 1024],
    ['10MiB', 10 * 1024 * 1024],
    ['10MB', 10 * 1024 * 1024],
  ])('%s = %d', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  it.each(['', '-1', '40X', 'M', '1 2', 'ten'])('rejects %j', (text) => expect(() => parseSize(text)).toThrow(ValueError));
});

describe('parseDuration (Go syntax)', () => {
  it.each([
    ['0', 0],
    ['90s', 90_000],
    ['45m', 2_700_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['2h45m30s', 9_930_000],
    ['1500us', 2],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '10', '1d', 'h', '-1h', '1h 30m', 'abc', '1hm'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(/Go syntax/));
  it('formats back', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(1500)).toBe('1s500ms');
  });
});

describe('versions', () => {
  it.each(['1', '1.2', '3374.2.0', '1.0.0-rc.1', '1.0.0+build.5', '2.0-beta+x'])('accepts %s', (v) => expect(parseVersion(v).text).toBe(v));
  it.each(['', 'v1.0', '1.2.3.4', '1..2', 'stable', '1.0-', '1.0+'])('rejects %j', (v) => expect(() => parseVersion(v)).toThrow(/semver-like/));
  it.each([
    ['1.0.0', '1.0.1', -1],
    ['3374.2.0', '3374.2.0', 0],
    ['3374.2', '3374.2.0', 0],
    ['10.0.0', '9.9.9', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-rc.2', '1.0.0-rc.10', -1],
    ['1.0.0-alpha', '1.0.0-1', 1],
    ['1.0.0+a', '1.0.0+b', 0],
  ])('compare(%s, %s) = %d', (a, b, sign) => expect(compareVersions(a, b)).toBe(sign));
});

describe('reboot windows', () => {
  it('parses locksmith starts with and without a day', () => {
    expect(parseLocksmithWindow('Thu 04:00', 3_600_000)).toMatchObject({ days: [4], startMinute: 240, durationMs: 3_600_000 });
    expect(parseLocksmithWindow('23:30', 60_000)).toMatchObject({ days: null, startMinute: 1410 });
    expect(parseLocksmithWindow('thursday 04:00', 1)).toMatchObject({ days: [4] });
  });
  it.each([
    ['Thu', /HH:MM/],
    ['Thu 25:00', /out of range/],
    ['Xyz 04:00', /unknown weekday "Xyz"/],
    ['Thu 04:00 extra', /\[Day \]HH:MM/],
    ['4', /HH:MM/],
  ])('rejects start %j', (start, message) => expect(() => parseLocksmithWindow(start, 60_000)).toThrow(message));

  it('parses several windows with day ranges, wrapping over the week end', () => {
    const w = parseRebootWindows('Mon-Fri 02:00 1h; Sat 04:00 3h ;Fri-Mon 22:00 30m; 12:00 15m');
    expect(w.map((x) => x.days)).toEqual([[1, 2, 3, 4, 5], [6], [5, 6, 0, 1], null]);
    expect(w.map((x) => x.durationMs)).toEqual([3_600_000, 10_800_000, 1_800_000, 900_000]);
  });
  it.each([
    ['Mon-Fri 02:00', /DURATION/],
    ['Mon 02:00 0s', /no length/],
    ['Mon 02:00 200h', /longer than a week/],
    [' ; ', /at least one window/],
    ['Mon-Tue-Wed 02:00 1h', /Day-Day/],
  ])('rejects %j', (text, message) => expect(() => parseRebootWindows(text)).toThrow(message));
});

describe('booleans and time zones', () => {
  it.each([
    ['true', true],
    ['YES', true],
    ['1', true],
    ['false', false],
    ['no', false],
    ['0', false],
  ])('%s', (t, v) => expect(parseBoolean(t)).toBe(v));
  it('rejects other words', () => expect(() => parseBoolean('maybe')).toThrow(/true or false/));
  it('checks IANA names', () => {
    expect(parseTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(parseTimeZone('UTC')).toBe('UTC');
    expect(() => parseTimeZone('Mars/Olympus')).toThrow(/IANA/);
  });
});
