// Logger factory: pino JSON lines to stderr by default, a readable one-line format when stderr is a TTY.

import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { redactingStream } from './redact.ts';

// pino-pretty (about 10 MB) is loaded only when a log is readable text, not for the JSON journal.
const require = createRequire(import.meta.url);
const loadPretty = () => require('pino-pretty') as (options: PrettyOptions) => NodeJS.WritableStream;

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Force readable (true) or JSON (false) output; default: readable when stderr is a TTY. */
  pretty?: boolean;
  /** Where to write; default stderr (fd 2). */
  destination?: NodeJS.WritableStream;
  name?: string;
}

/** Keys whose values never reach a log line. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'settings.downloadPassword',
  'settings.etcdPassword',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.UPDATE_ENGINE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const base = { level, ...(options.name !== undefined ? { name: options.name } : {}), redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  const usePretty = options.pretty ?? (options.destination === undefined && process.stderr.isTTY === true);
  if (usePretty) {
    const stream = loadPretty()({
      destination: options.destination ?? 2,
      sync: true,
      colorize: options.destination === undefined && process.stderr.isTTY === true,
      ignore: 'pid,hostname,name',
      translateTime: 'SYS:HH:MM:ss.l',
    });
    return pino(base, redactingStream(stream));
  }
  // Every line passes through redactingStream: a password in a URL never reaches the journal (issue 14).
  if (options.destination) return pino(base, redactingStream(options.destination));
  return pino(base, redactingStream(pino.destination({ fd: 2, sync: true })));
}

/** A logger that drops everything (for tests and quiet commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
