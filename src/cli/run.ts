// Shared CLI plumbing: the command context, the error-to-exit-code boundary, argv parsing.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UpdateEngineError, exitCodeFor, EXIT_CODES } from '../errors.ts';
import { redactUrlPasswords } from '../platform/redact.ts';

/** What a command gets: its streams and environment (injectable for in-process tests). */
export interface CommandContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Cancelled on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export type Command = (argv: string[], ctx: CommandContext) => Promise<number>;

export function usageError(message: string): UpdateEngineError {
  return new UpdateEngineError('ERR_USAGE', message);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict checking; its errors become one-line usage errors. */
export function parseCommandLine<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw usageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Reports an error as one line on stderr and returns the exit code. Stack traces only for bugs with UPDATE_ENGINE_DEBUG=1. */
export function reportError(program: string, e: unknown, stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv): number {
  if (e instanceof UpdateEngineError) {
    stderr.write(`${program}: ${redactUrlPasswords(e.message)}\n`);
    if (e.code === 'ERR_USAGE') stderr.write(`Try '${program} --help'.\n`);
    if (env.UPDATE_ENGINE_DEBUG === '1' && e.stack) stderr.write(`${e.stack}\n`);
    return exitCodeFor(e.code);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  stderr.write(`${program}: internal error: ${redactUrlPasswords(err.message)}\n`);
  if (env.UPDATE_ENGINE_DEBUG === '1' && err.stack) stderr.write(`${err.stack}\n`);
  else stderr.write(`${program}: this is a bug; run again with UPDATE_ENGINE_DEBUG=1 for details\n`);
  return EXIT_CODES.internal;
}

/** The process entry point: runs a command with the real streams, signals and exit code. */
export function main(program: string, command: Command): void {
  const controller = new AbortController();
  let signalled = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signalled += 1;
    if (signalled > 1) process.exit(130);
    controller.abort(new UpdateEngineError('ERR_ABORTED', `Stopped by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx: CommandContext = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
  command(process.argv.slice(2), ctx).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(program, e, process.stderr, process.env);
    },
  );
}

/** Writes text followed by a newline. */
export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}
