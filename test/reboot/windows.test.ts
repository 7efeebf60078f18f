import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseLocksmithWindow, parseRebootWindows } from '../../src/config/values.ts';
import { currentWindowEnd, describeWindows, isInWindow, msUntilWindow, nextWindowStart } from '../../src/reboot/windows.ts';

const H = 3_600_000;
const utc = (iso: string) => Date.parse(`${iso}Z`);
const windows = (text: string) => parseRebootWindows(text);

describe('isInWindow', () => {
  it.each([
    // [windows, zone, instant, inside]
    ['02:00 1h', 'UTC', '2024-01-03T02:00:00', true],
    ['02:00 1h', 'UTC', '2024-01-03T02:59:59', true],
    ['02:00 1h', 'UTC', '2024-01-03T03:00:00', false], // the end is exclusive
    ['02:00 1h', 'UTC', '2024-01-03T01:59:59', false],
    ['Thu 04:00 1h30m', 'UTC', '2024-01-04T05:29:00', true], // 2024-01-04 is a Thursday
    ['Thu 04:00 1h30m', 'UTC', '2024-01-03T04:30:00', false], // Wednesday
    ['Sat 23:00 3h', 'UTC', '2024-01-07T01:30:00', true], // past midnight into Sunday
    ['Sat 23:00 48h', 'UTC', '2024-01-08T22:59:00', true], // across the week boundary
    ['Sat 23:00 48h', 'UTC', '2024-01-08T23:00:00', false],
    ['Mon-Fri 02:00 1h; Sat 04:00 3h', 'UTC', '2024-01-06T06:00:00', true],
    ['Mon-Fri 02:00 1h; Sat 04:00 3h', 'UTC', '2024-01-06T02:30:00', false], // Saturday is not Mon-Fri
    ['Fri-Mon 02:00 1h', 'UTC', '2024-01-07T02:30:00', true], // a range through the weekend
    ['Fri-Mon 02:00 1h', 'UTC', '2024-01-03T02:30:00', false],
    // Time zones: 04:00 in Berlin is 03:00 UTC in winter and 02:00 UTC in summer.
    ['04:00 1h', 'Europe/Berlin', '2024-01-10T03:30:00', true],
    ['04:00 1h', 'Europe/Berlin', '2024-07-10T02:30:00', true],
    ['04:00 1h', 'Europe/Berlin', '2024-07-10T03:30:00', false],
    ['Mon 09:00 8h', 'Asia/Kolkata', '2024-01-08T03:30:00', true], // 09:00 IST = 03:30 UTC
    // Spring forward in Berlin (2024-03-31 02:00 CET -> 03:00 CEST): 02:30 does not exist and opens at 03:30 CEST.
    ['02:30 1h', 'Europe/Berlin', '2024-03-31T00:45:00', false], // 01:45 CET
    ['02:30 1h', 'Europe/Berlin', '2024-03-31T01:30:00', true], // 03:30 CEST
    ['02:30 1h', 'Europe/Berlin', '2024-03-31T02:29:00', true],
    ['02:30 1h', 'Europe/Berlin', '2024-03-31T02:30:00', false], // an hour of real time
    // Fall back (2024-10-27 03:00 CEST -> 02:00 CET): 02:30 happens twice; the window opens at the first.
    ['02:30 1h', 'Europe/Berlin', '2024-10-27T00:30:00', true], // 02:30 CEST
    ['02:30 1h', 'Europe/Berlin', '2024-10-27T01:29:00', true],
    ['02:30 1h', 'Europe/Berlin', '2024-10-27T01:45:00', false], // 02:45 CET, the second 02:45
    // New York's spring forward (2024-03-10 02:00 EST -> 03:00 EDT).
    ['02:15 30m', 'America/New_York', '2024-03-10T07:20:00', true], // 03:20 EDT: the window moved to 03:15
    ['22:00 4h', 'America/New_York', '2024-03-10T06:30:00', true], // opened 22:00 EST on the 9th, 4 real hours
    ['22:00 4h', 'America/New_York', '2024-03-10T07:00:00', false],
  ])('%s in %s at %s: %s', (text, zone, iso, inside) => {
    expect(isInWindow(windows(text), zone, utc(iso))).toBe(inside);
  });

  it("reads locksmith's single window (start and length)", () => {
    const w = [parseLocksmithWindow('Thu 04:00', 90 * 60_000)];
    expect(isInWindow(w, 'UTC', utc('2024-01-04T05:00:00'))).toBe(true);
    expect(isInWindow(w, 'UTC', utc('2024-01-11T03:59:00'))).toBe(false);
  });

  it('is always open with no windows', () => {
    expect(isInWindow([], 'UTC', 0)).toBe(true);
    expect(msUntilWindow([], 'Europe/Berlin', utc('2024-03-31T01:00:00'))).toBe(0);
  });
});

describe('nextWindowStart and currentWindowEnd', () => {
  it.each([
    ['Thu 04:00 1h', 'UTC', '2024-01-03T12:00:00', '2024-01-04T04:00:00'],
    ['Thu 04:00 1h', 'UTC', '2024-01-04T04:30:00', '2024-01-11T04:00:00'], // inside: the next opening is a week on
    ['02:00 1h', 'UTC', '2024-01-03T02:00:00', '2024-01-04T02:00:00'],
    ['Mon-Fri 02:00 1h; Sat 04:00 3h', 'UTC', '2024-01-05T03:00:00', '2024-01-06T04:00:00'],
    ['02:30 1h', 'Europe/Berlin', '2024-03-30T12:00:00', '2024-03-31T01:30:00'], // into the DST gap: 03:30 CEST
    ['02:30 1h', 'Europe/Berlin', '2024-10-26T12:00:00', '2024-10-27T00:30:00'], // the first of two 02:30s
    ['Sun 01:00 1h', 'Pacific/Auckland', '2024-01-01T00:00:00', '2024-01-06T12:00:00'], // 01:00 NZDT Sunday = 12:00 UTC Saturday
  ])('%s in %s after %s: %s', (text, zone, iso, next) => {
    expect(new Date(nextWindowStart(windows(text), zone, utc(iso)) as number).toISOString()).toBe(new Date(utc(next)).toISOString());
  });

  it('gives the end of the current window (the latest, when windows overlap)', () => {
    expect(currentWindowEnd(windows('02:00 1h; 02:30 2h'), 'UTC', utc('2024-01-03T02:45:00'))).toBe(utc('2024-01-03T04:30:00'));
    expect(currentWindowEnd(windows('02:00 1h'), 'UTC', utc('2024-01-03T05:00:00'))).toBeUndefined();
    expect(nextWindowStart([], 'UTC', 0)).toBeUndefined();
  });

  it('msUntilWindow always lands inside a window, and the wait is never inside one', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
    const windowText = fc
      .record({
        day: fc.constantFrom('', 'Mon ', 'Sat-Sun ', 'Tue-Thu '),
        h: fc.integer({ min: 0, max: 23 }),
        m: fc.integer({ min: 0, max: 59 }),
        len: fc.constantFrom('15m', '1h', '2h30m', '25h'),
      })
      .map((r) => `${r.day}${String(r.h).padStart(2, '0')}:${String(r.m).padStart(2, '0')} ${r.len}`);
    fc.assert(
      fc.property(
        fc.array(windowText, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...zones),
        fc.integer({ min: utc('2023-01-01T00:00:00'), max: utc('2026-01-01T00:00:00') }),
        (texts, zone, now) => {
          const ws = windows(texts.join('; '));
          const wait = msUntilWindow(ws, zone, now);
          expect(wait).toBeGreaterThanOrEqual(0);
          expect(wait).toBeLessThanOrEqual(8 * 24 * H);
          expect(isInWindow(ws, zone, now + wait)).toBe(true);
          if (wait > 0) expect(isInWindow(ws, zone, now + wait - 1)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('describeWindows', () => {
  it('says when and where', () => {
    expect(describeWindows(windows('Mon-Wed 02:00 1h; 04:00 30m'), 'Europe/Berlin')).toBe('Mon,Tue,Wed 02:00 for 1h; daily 04:00 for 30m (Europe/Berlin)');
    expect(describeWindows([], undefined)).toBe('any time');
  });
});
