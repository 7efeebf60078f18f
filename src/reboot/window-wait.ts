// Waiting for a reboot window on the Clock port, and a signal that fires when the current window
// closes (so that a wait for the lock can step back until the next window).

import type { RebootWindow } from '../config/values.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { currentWindowEnd, describeWindows, msUntilWindow } from './windows.ts';

export interface WindowSchedule {
  windows: readonly RebootWindow[];
  /** IANA zone; undefined = local time. */
  timeZone: string | undefined;
}

/** Re-evaluate at least this often while waiting, so that a change of the wall clock is noticed. */
const RECHECK_MS = 10 * 60_000;

/** Resolves when the wall clock is inside a window (at once with none configured); rejects when aborted. */
export async function waitForWindow(schedule: WindowSchedule, clock: Clock, logger: Logger, signal?: AbortSignal): Promise<void> {
  let announced = false;
  for (;;) {
    signal?.throwIfAborted();
    const waitMs = msUntilWindow(schedule.windows, schedule.timeZone, clock.now());
    if (waitMs === 0) return;
    if (!announced) {
      logger.info(
        { windows: describeWindows(schedule.windows, schedule.timeZone), opensAt: new Date(clock.now() + waitMs).toISOString() },
        'Waiting for a reboot window',
      );
      announced = true;
    }
    await clock.sleep(Math.min(waitMs, RECHECK_MS), signal);
  }
}

/**
 * An AbortSignal that aborts when the window we are in closes (never, with no windows configured),
 * and a dispose() that cancels its timer.
 */
export function windowClosingSignal(schedule: WindowSchedule, clock: Clock): { signal: AbortSignal; dispose: () => void } {
  const closing = new AbortController();
  const stop = new AbortController();
  const end = currentWindowEnd(schedule.windows, schedule.timeZone, clock.now());
  if (schedule.windows.length > 0) {
    const waitMs = end === undefined ? 0 : end - clock.now();
    clock.sleep(waitMs, stop.signal).then(
      () => closing.abort(new WindowClosedError()),
      () => undefined,
    );
  }
  return { signal: closing.signal, dispose: () => stop.abort() };
}

/** The reason of a windowClosingSignal abort. */
export class WindowClosedError extends Error {
  override readonly name = 'WindowClosedError';
  constructor() {
    super('The reboot window closed');
  }
}
