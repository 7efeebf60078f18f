import { describe, expect, it } from 'vitest';
import { addDays, localDate, zonedTimeToUtc, zoneOffsetMs } from '../../src/reboot/zoned-time.ts';

const utc = (iso: string) => Date.parse(`${iso}Z`);

describe('zoned time', () => {
  it.each([
    ['UTC', '2024-07-01T12:00:00', 0],
    ['Europe/Berlin', '2024-01-15T12:00:00', 3_600_000],
    ['Europe/Berlin', '2024-07-15T12:00:00', 7_200_000],
    ['America/New_York', '2024-01-15T12:00:00', -5 * 3_600_000],
    ['Asia/Kathmandu', '2024-01-15T12:00:00', 5.75 * 3_600_000],
  ])('offset of %s at %s', (zone, iso, offset) => {
    expect(zoneOffsetMs(utc(iso), zone)).toBe(offset);
  });

  it('gives the local date and weekday of an instant', () => {
    // 23:30 UTC on Sunday 2024-01-07 is already Monday in Berlin.
    expect(localDate(utc('2024-01-07T23:30:00'), 'Europe/Berlin')).toEqual({ year: 2024, month: 1, day: 8, weekday: 1 });
    expect(localDate(utc('2024-01-07T23:30:00'), 'UTC')).toEqual({ year: 2024, month: 1, day: 7, weekday: 0 });
  });

  it('adds days across month and year ends', () => {
    expect(addDays({ year: 2024, month: 12, day: 31, weekday: 2 }, 1)).toEqual({ year: 2025, month: 1, day: 1, weekday: 3 });
    expect(addDays({ year: 2024, month: 3, day: 1, weekday: 5 }, -1)).toEqual({ year: 2024, month: 2, day: 29, weekday: 4 });
  });

  it.each([
    ['ordinary time', 'Europe/Berlin', [2024, 1, 15], 4 * 60, '2024-01-15T03:00:00'],
    ['summer time', 'Europe/Berlin', [2024, 7, 15], 4 * 60, '2024-07-15T02:00:00'],
    ['a wall time skipped by spring forward moves forward by the gap', 'Europe/Berlin', [2024, 3, 31], 2 * 60 + 30, '2024-03-31T01:30:00'],
    ['a wall time repeated by fall back means the first', 'Europe/Berlin', [2024, 10, 27], 2 * 60 + 30, '2024-10-27T00:30:00'],
    ['Lord Howe moves by half an hour', 'Australia/Lord_Howe', [2024, 10, 6], 2 * 60 + 15, '2024-10-05T15:45:00'],
  ])('%s', (_name, zone, [y, m, d], minute, iso) => {
    const date = { year: y as number, month: m as number, day: d as number, weekday: 0 };
    expect(new Date(zonedTimeToUtc(date, minute, zone)).toISOString()).toBe(new Date(utc(iso)).toISOString());
  });
});
