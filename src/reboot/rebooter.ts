// The Rebooter port and CommandRebooter: tells logged-in users (wall, when present) and runs
// REBOOT_COMMAND as argv without a shell. A failure to reboot is ERR_REBOOT_COMMAND.

import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { execArgv, splitCommand, type ExecOptions, type ExecResult } from '../platform/exec.ts';
import type { Logger } from '../platform/logger.ts';

/** Reboots the machine (or, for tests and the demo, whatever the command does). */
export interface Rebooter {
  /** Resolves once the reboot command has returned successfully; `reason` goes to logged-in users and the log. */
  reboot(reason: string, signal?: AbortSignal): Promise<void>;
}

export interface CommandRebooterOptions {
  /** REBOOT_COMMAND, split on white space. */
  command: string;
  logger: Logger;
  /**
   * Broadcast program that reads the message on stdin; default: `wall` when it is on PATH.
   * null: tell nobody.
   */
  wallArgv?: readonly string[] | null;
  /** Longest run of the reboot command; default 60 s. */
  timeoutMs?: number;
  exec?: (argv: readonly string[], options: ExecOptions) => Promise<ExecResult>;
  /** The environment of the reboot command and wall (default: the daemon's); the daemon passes it without the settings' secrets. */
  env?: NodeJS.ProcessEnv;
  /** PATH to look for `wall` in; default process.env.PATH. */
  path?: string;
}

/** Finds an executable on PATH (no shell involved). */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export class CommandRebooter implements Rebooter {
  private readonly argv: string[];

  constructor(private readonly options: CommandRebooterOptions) {
    this.argv = splitCommand(options.command);
    if (this.argv.length === 0) throw new UpdateEngineError('ERR_CONFIG_VALUE', 'REBOOT_COMMAND is empty');
  }

  async reboot(reason: string, signal?: AbortSignal): Promise<void> {
    const exec = this.options.exec ?? execArgv;
    const { logger } = this.options;
    await this.tellUsers(`update-engine: this machine reboots now: ${reason}`, exec, signal);
    logger.warn({ command: this.options.command, reason }, 'Rebooting');
    let result: ExecResult;
    try {
      result = await exec(this.argv, {
        timeoutMs: this.options.timeoutMs ?? 60_000,
        signal,
        env: this.options.env,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such program' : (e as Error).message;
      throw new UpdateEngineError('ERR_REBOOT_COMMAND', `Cannot run the reboot command "${this.options.command}": ${why}`, { cause: e });
    }
    if (result.exitCode !== 0) {
      const how = result.signal ? `was killed by ${result.signal}` : `failed with exit code ${result.exitCode}`;
      const detail = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
      throw new UpdateEngineError('ERR_REBOOT_COMMAND', `The reboot command "${this.options.command}" ${how}${detail ? `: ${detail}` : ''}`, {
        details: { exitCode: result.exitCode, signal: result.signal },
      });
    }
  }

  /** Best effort: a missing or failing `wall` is logged, never fatal. */
  private async tellUsers(message: string, exec: NonNullable<CommandRebooterOptions['exec']>, signal?: AbortSignal): Promise<void> {
    let wallArgv = this.options.wallArgv;
    if (wallArgv === undefined) {
      const wall = await findOnPath('wall', this.options.path);
      wallArgv = wall ? [wall] : null;
    }
    if (wallArgv === null || wallArgv.length === 0) return;
    try {
      const r = await exec(wallArgv, {
        input: `${message}\n`,
        timeoutMs: 10_000,
        signal,
        env: this.options.env,
      });
      if (r.exitCode !== 0)
        this.options.logger.warn({ wall: wallArgv[0], exitCode: r.exitCode, stderr: r.stderr.trim() }, 'Cannot tell logged-in users about the reboot');
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      this.options.logger.warn({ wall: wallArgv[0], err: (e as Error).message }, 'Cannot tell logged-in users about the reboot');
    }
  }
}
