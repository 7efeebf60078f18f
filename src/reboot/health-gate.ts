// The health gate of the post-boot cycle: HEALTH_CHECK (argv, no shell) must exit 0 before the new slot
// is marked good; it is retried until HEALTH_TIMEOUT has passed. Time runs on the Clock port.

import type { Clock } from '../platform/clock.ts';
import { execArgv, splitCommand, type ExecOptions, type ExecResult } from '../platform/exec.ts';
import type { Logger } from '../platform/logger.ts';

export interface HealthGateOptions {
  /** HEALTH_CHECK; undefined or empty: no check, the gate passes at once. */
  command: string | undefined;
  /** HEALTH_TIMEOUT: how long the check is retried. */
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal;
  logger?: Logger;
  /** Pause between attempts, shortened to what is left; default 10 s. */
  retryIntervalMs?: number;
  /** Longest run of one attempt, shortened to what is left (at least 1 s); default 60 s. */
  attemptTimeoutMs?: number;
  /** The command's environment (default: the daemon's); the daemon passes it without the settings' secrets. */
  env?: NodeJS.ProcessEnv;
  /** Runs the command; default execArgv (tests may inject). */
  exec?: (argv: readonly string[], options: ExecOptions) => Promise<ExecResult>;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/**
 * Runs the health check until it exits 0 (true) or the timeout has passed (false). An attempt that
 * cannot start (a missing program) counts as a failed attempt. Rejects only when aborted.
 */
export async function runHealthGate(options: HealthGateOptions): Promise<boolean> {
  const argv = options.command === undefined ? [] : splitCommand(options.command);
  if (argv.length === 0) return true;
  const { clock, signal, logger } = options;
  const exec = options.exec ?? execArgv;
  const retryIntervalMs = options.retryIntervalMs ?? 10_000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 60_000;
  const deadline = clock.monotonicMs() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const left = deadline - clock.monotonicMs();
    let outcome: string;
    try {
      const result = await exec(argv, {
        timeoutMs: Math.max(1000, Math.min(attemptTimeoutMs, left)),
        signal,
        env: options.env,
      });
      if (result.exitCode === 0) {
        logger?.info({ command: options.command, attempt }, 'Health check passed');
        return true;
      }
      outcome = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
      const detail = lastLine(result.stderr) || lastLine(result.stdout);
      if (detail) outcome += `: ${detail}`;
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      outcome = `cannot run it: ${(e as Error).message}`;
    }
    const remaining = deadline - clock.monotonicMs();
    logger?.warn({ command: options.command, attempt, remainingMs: Math.max(0, remaining) }, `Health check "${options.command}" failed (${outcome})`);
    if (remaining <= 0) return false;
    await clock.sleep(Math.min(retryIntervalMs, remaining), signal);
  }
}
