// Cron expressions (CHECK_SCHEDULE) through croner: 5 fields, or 6 with seconds first; names for
// months and weekdays; local time; a day must match day of month AND day of week (as node-cron,
// which this project used before, reads them). croner computes the next run from any instant.

import { Cron } from 'croner';

/** Parses an expression; throws an Error saying what is wrong. Nothing runs: the job is paused. */
export function parseCronExpression(expression: string): Cron {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw new Error(`expected 5 fields (or 6 with seconds first), got ${fields}`);
  return new Cron(expression.trim(), { paused: true, domAndDow: true });
}

/** The first time `cron` matches strictly after `afterMs`, when it is within `horizonMs`; else undefined. */
export function nextCronRun(cron: Cron, afterMs: number, horizonMs: number): number | undefined {
  const next = cron.nextRun(new Date(afterMs))?.getTime();
  return next !== undefined && next - afterMs <= horizonMs ? next : undefined;
}
