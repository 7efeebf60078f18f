// When to check for updates: update_engine's cadence (pure, with injected randomness) or a
// CHECK_SCHEDULE cron expression (croner), and CheckScheduler, the small runner that
// calls the check callback at those times, never two at once, with on-demand checks and a clean stop.

import type { Cron } from 'croner';
import { nextCronRun, parseCronExpression } from '../platform/cron.ts';
import { UpdateEngineError } from '../errors.ts';
import type { Clock } from '../platform/clock.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';

const MINUTE_MS = 60_000;
/** How far ahead a cron schedule is searched: an expression with no match within it is refused. */
const CRON_HORIZON_MS = 5 * 366 * 24 * 60 * MINUTE_MS;

/** update_engine's constants (update_check_scheduler.cc). A fuzz is the whole range: +/- half of it. */
export const CADENCE = {
  initialIntervalMs: 7 * MINUTE_MS,
  periodicIntervalMs: 45 * MINUTE_MS,
  regularFuzzMs: 10 * MINUTE_MS,
  maxBackoffIntervalMs: 4 * 60 * MINUTE_MS,
} as const;

/** What the previous check left behind, for computing the next delay. */
export interface CadenceInput {
  /** The unfuzzed interval before the previous check; undefined: no check has run yet. */
  lastIntervalMs?: number;
  /** HTTP status the previous check failed with (500 and 503 double the interval). */
  lastHttpStatus?: number | undefined;
  /** The previous check failed with a server or configuration error (an error-* app status): double the interval too. */
  lastBackoff?: boolean | undefined;
  /** Omaha updatecheck@PollInterval of the previous response, in ms. */
  pollIntervalMs?: number | undefined;
}

export interface PlannedCheck {
  /** The unfuzzed interval (remembered as lastIntervalMs for the next plan). */
  intervalMs: number;
  /** The whole fuzz range; the delay is intervalMs +/- fuzzMs / 2. */
  fuzzMs: number;
  /** The delay until the check. */
  delayMs: number;
}

/** A uniformly random integer in [min, max]; `random` returns [0, 1) like Math.random. */
function randomBetween(random: () => number, min: number, max: number): number {
  return min + Math.min(max - min, Math.floor(random() * (max - min + 1)));
}

/**
 * The delay until the next check, as update_engine computes it: the first check 7 min +/- 5 after
 * start; then the server's PollInterval if it sent one, else twice the last interval after an HTTP
 * 500/503, else 45 min. The interval is capped at 4 h; at or below 45 min it becomes 45 min +/- 5,
 * above that it is fuzzed by +/- half of itself (so a fleet backing off spreads out).
 */
export function planNextCheck(input: CadenceInput, random: () => number): PlannedCheck {
  let intervalMs: number;
  let fuzzMs: number;
  if (input.lastIntervalMs === undefined) {
    intervalMs = CADENCE.initialIntervalMs;
    fuzzMs = CADENCE.regularFuzzMs;
  } else {
    intervalMs = 0;
    if (input.pollIntervalMs !== undefined && input.pollIntervalMs > 0) intervalMs = input.pollIntervalMs;
    else if (input.lastHttpStatus === 500 || input.lastHttpStatus === 503 || input.lastBackoff === true) intervalMs = 2 * input.lastIntervalMs;
    intervalMs = Math.min(intervalMs, CADENCE.maxBackoffIntervalMs);
    fuzzMs = intervalMs;
    if (intervalMs <= CADENCE.periodicIntervalMs) {
      intervalMs = CADENCE.periodicIntervalMs;
      fuzzMs = CADENCE.regularFuzzMs;
    }
  }
  const half = Math.floor(fuzzMs / 2);
  const delayMs = randomBetween(random, Math.max(0, intervalMs - half), intervalMs + half);
  return { intervalMs, fuzzMs, delayMs };
}

/** Finds the next time a cron expression matches (local time), with croner (src/platform/cron.ts). */
export class CronMatcher {
  readonly expression: string;
  readonly #cron: Cron;

  constructor(expression: string) {
    this.expression = expression;
    try {
      this.#cron = parseCronExpression(expression);
    } catch (e) {
      throw new UpdateEngineError('ERR_CONFIG_VALUE', `CHECK_SCHEDULE "${expression}" is not a cron expression: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The first matching time strictly after `afterMs` (ms), within 5 years; else undefined. */
  nextAfter(afterMs: number): number | undefined {
    return nextCronRun(this.#cron, afterMs, CRON_HORIZON_MS);
  }

  /** Stops the (paused) croner job. */
  dispose(): void {
    this.#cron.stop();
  }
}

export type CheckReason = 'scheduled' | 'on-demand';

/** What the check callback reports back (for the cadence; ignored with a cron schedule). */
export interface CheckOutcome {
  httpStatus?: number | undefined;
  pollIntervalMs?: number;
  /** A failed check that should slow the checks down (a server or configuration error). */
  backoff?: boolean;
}

/** The cadence input after a check that ran `lastIntervalMs` after the one before. */
export function cadenceInputOf(lastIntervalMs: number, outcome: CheckOutcome): CadenceInput {
  return { lastIntervalMs, lastHttpStatus: outcome.httpStatus, pollIntervalMs: outcome.pollIntervalMs, lastBackoff: outcome.backoff };
}

export interface CheckSchedulerOptions {
  clock: Clock;
  /** Runs one check. Its errors are logged; an UpdateEngineError's httpStatus counts as the outcome. */
  onCheck: (reason: CheckReason, signal: AbortSignal) => Promise<CheckOutcome | undefined>;
  /** CHECK_SCHEDULE; undefined: update_engine's cadence. */
  cronExpression?: string | undefined;
  /** Default Math.random. */
  random?: () => number;
  logger?: Logger;
}

/** With a cron schedule, waits are cut into pieces of at most this, so that wall-clock jumps are noticed. */
export const CRON_RECHECK_MS = 60 * MINUTE_MS;

/**
 * Calls onCheck at the scheduled times, one check at a time. checkNow() runs a check at once
 * (unless one is running) and the schedule then restarts from its outcome. stop() aborts the wait
 * and the running check's signal, and resolves when the check has settled.
 */
export class CheckScheduler {
  readonly #clock: Clock;
  readonly #onCheck: CheckSchedulerOptions['onCheck'];
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #cron: CronMatcher | undefined;
  readonly #stopController = new AbortController();
  #wake: AbortController | undefined;
  #running: Promise<CheckOutcome> | undefined;
  #loop: Promise<void> | undefined;
  #nextCheckAtMs: number | undefined;

  constructor(options: CheckSchedulerOptions) {
    this.#clock = options.clock;
    this.#onCheck = options.onCheck;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger();
    this.#cron = options.cronExpression === undefined ? undefined : new CronMatcher(options.cronExpression);
    if (this.#cron && this.#cron.nextAfter(this.#clock.now()) === undefined) {
      this.#cron.dispose();
      throw new UpdateEngineError('ERR_CONFIG_VALUE', `CHECK_SCHEDULE "${this.#cron.expression}" never matches in the next 5 years`);
    }
  }

  /** True while a check runs. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Wall time (ms) of the next scheduled check; undefined while a check runs or when stopped. */
  get nextCheckAtMs(): number | undefined {
    return this.#nextCheckAtMs;
  }

  start(): void {
    if (this.#loop || this.#stopController.signal.aborted) return;
    this.#loop = this.#run();
  }

  /** Starts a check now: 'started', 'busy' (one is running; it is not repeated) or 'stopped'. */
  checkNow(): 'started' | 'busy' | 'stopped' {
    if (!this.#loop || this.#stopController.signal.aborted) return 'stopped';
    if (this.#running) return 'busy';
    this.#wake?.abort();
    return 'started';
  }

  async stop(): Promise<void> {
    this.#stopController.abort(new UpdateEngineError('ERR_ABORTED', 'The update check scheduler was stopped'));
    await this.#loop;
    this.#cron?.dispose();
  }

  async #run(): Promise<void> {
    let input: CadenceInput = {};
    const stopped = this.#stopController.signal;
    while (!stopped.aborted) {
      const plan = this.#plan(input);
      this.#nextCheckAtMs = this.#clock.now() + plan.delayMs;
      this.#logger.info(
        { delayMs: plan.delayMs, intervalMs: plan.intervalMs, nextCheckAt: new Date(this.#nextCheckAtMs).toISOString() },
        'next update check scheduled',
      );
      const reason = await this.#wait(plan.delayMs);
      this.#nextCheckAtMs = undefined;
      if (reason === undefined) break;
      this.#running = this.#check(reason);
      const outcome = await this.#running;
      this.#running = undefined;
      input = cadenceInputOf(plan.intervalMs, outcome);
    }
  }

  #plan(input: CadenceInput): PlannedCheck {
    if (!this.#cron) return planNextCheck(input, this.#random);
    const nowMs = this.#clock.now();
    // The constructor made sure it matches within 5 years; look again at most that far ahead.
    const next = this.#cron.nextAfter(nowMs) ?? nowMs + CRON_HORIZON_MS;
    return { intervalMs: next - nowMs, fuzzMs: 0, delayMs: next - nowMs };
  }

  /** Sleeps until the check is due: 'scheduled', 'on-demand' (woken by checkNow) or undefined (stopped). */
  async #wait(delayMs: number): Promise<CheckReason | undefined> {
    const wake = new AbortController();
    this.#wake = wake;
    const signal = AbortSignal.any([wake.signal, this.#stopController.signal]);
    const dueAtMs = this.#clock.now() + delayMs;
    try {
      let remainingMs = delayMs;
      for (;;) {
        // With a cron schedule the target is a wall time: sleep in pieces and look at the clock again.
        await this.#clock.sleep(this.#cron ? Math.min(remainingMs, CRON_RECHECK_MS) : remainingMs, signal);
        if (!this.#cron) break;
        remainingMs = dueAtMs - this.#clock.now();
        if (remainingMs <= 0) break;
      }
      return 'scheduled';
    } catch (e) {
      if (this.#stopController.signal.aborted) return undefined;
      if (wake.signal.aborted) return 'on-demand';
      throw e;
    } finally {
      this.#wake = undefined;
    }
  }

  async #check(reason: CheckReason): Promise<CheckOutcome> {
    try {
      return (await this.#onCheck(reason, this.#stopController.signal)) ?? {};
    } catch (e) {
      const httpStatus = e instanceof UpdateEngineError ? e.httpStatus : undefined;
      this.#logger.warn({ err: e, reason }, 'update check failed');
      return httpStatus === undefined ? {} : { httpStatus };
    }
  }
}
