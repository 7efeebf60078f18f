// The control socket protocol: newline-delimited JSON. A request is {"id":N,"method":M}; each gets
// one response {"id":N,"ok":true,"result":...} or {"id":N,"ok":false,"error":{code,message}}, except
// "watch", which answers with a stream of {"id":N,"event":"status","snapshot":...} until the client closes.

import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { ERROR_CODES, UpdateEngineError } from '../errors.ts';
import { UPDATE_STATUSES, type StatusSnapshot } from './status.ts';

export const CONTROL_METHODS = ['status', 'check', 'reset', 'watch', 'need-reboot'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

/** A line longer than this is a protocol error (requests and responses are a few hundred bytes). */
export const MAX_LINE_BYTES = 64 * 1024;

/** What the daemon answers to "check" (it returns at once; the check runs in the background). */
export interface CheckResult {
  /** False when a check or update was already running (it is not repeated). */
  started: boolean;
  /** One line for the user, e.g. "Update check started". */
  message: string;
}

/** What the daemon answers to "reset" (-reset_status). */
export interface ResetResult {
  /** One line for the user, e.g. "Pending update to 2.0.0 undone; slot USR-A stays active". */
  message: string;
  snapshot: StatusSnapshot;
}

/** What the daemon implements behind the socket (the attempter). Errors: throw UpdateEngineError. */
export interface ControlHandler {
  status(): StatusSnapshot | Promise<StatusSnapshot>;
  /** Starts a check now, as an on-demand check; resolves at once. */
  check(): CheckResult | Promise<CheckResult>;
  /** Undoes a pending update (-reset_status). */
  reset(): ResetResult | Promise<ResetResult>;
  /** Calls `listener` after every status change; returns the unsubscribe function. */
  watch(listener: (snapshot: StatusSnapshot) => void): () => void;
  /**
   * `locksmithctl send-need-reboot`: a reboot is needed (as update_engine's UPDATED_NEED_REBOOT signal
   * tells locksmithd): the reboot strategy runs (window, lock, REBOOT_COMMAND). Optional.
   */
  needReboot?(): NeedRebootResult | Promise<NeedRebootResult>;
}

/** What the daemon answers to "need-reboot". */
export interface NeedRebootResult {
  message: string;
}

export const statusSnapshotSchema = z.object({
  status: z.enum(UPDATE_STATUSES),
  progress: z.number().min(0).max(1),
  lastCheckedTimeSeconds: z.number().nonnegative(),
  newVersion: z.string(),
  newSizeBytes: z.number().nonnegative(),
  currentOperation: z.string(),
  lastError: z.object({ code: z.enum(ERROR_CODES), message: z.string() }).nullable(),
  checkNote: z.string().optional(),
});

export const requestSchema = z.object({ id: z.number().int().nonnegative(), method: z.enum(CONTROL_METHODS) });
export type ControlRequest = z.infer<typeof requestSchema>;

const errorSchema = z.object({ code: z.enum(ERROR_CODES), message: z.string() });

export const responseSchema = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int().nullable(), ok: z.literal(false), error: errorSchema }),
  z.object({ id: z.number().int(), event: z.literal('status'), snapshot: statusSnapshotSchema }),
]);
export type ControlResponse = z.infer<typeof responseSchema>;

/** The result schema of each method (watch's result is its first snapshot, sent as an event). */
export const resultSchemas = {
  status: statusSnapshotSchema,
  check: z.object({ started: z.boolean(), message: z.string() }),
  reset: z.object({ message: z.string(), snapshot: statusSnapshotSchema }),
  'need-reboot': z.object({ message: z.string() }),
} as const;

/** One message as a line. */
export function encodeLine(message: ControlRequest | ControlResponse): string {
  return `${JSON.stringify(message)}\n`;
}

/** The error response for a failure (non-UpdateEngineErrors are reported as ERR_INTERNAL). */
export function errorResponse(id: number | null, e: unknown): ControlResponse {
  if (e instanceof UpdateEngineError) return { id, ok: false, error: { code: e.code, message: e.message } };
  return { id, ok: false, error: { code: 'ERR_INTERNAL', message: `The daemon failed: ${e instanceof Error ? e.message : String(e)}` } };
}

/** Splits a byte stream into lines (UTF-8 safe across chunks); a line over MAX_LINE_BYTES throws ERR_CONTROL_SOCKET. */
export class LineDecoder {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';

  push(chunk: Buffer): string[] {
    this.#pending += this.#decoder.write(chunk);
    const lines = this.#pending.split('\n');
    this.#pending = lines.pop() ?? '';
    if (Buffer.byteLength(this.#pending) > MAX_LINE_BYTES) {
      throw new UpdateEngineError('ERR_CONTROL_SOCKET', `A control socket message is longer than ${MAX_LINE_BYTES} bytes`);
    }
    return lines.filter((line) => line.trim() !== '');
  }
}

/** Parses one line with a schema; anything else is ERR_CONTROL_SOCKET quoting the start of the line. */
export function parseLine<T>(line: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new UpdateEngineError('ERR_CONTROL_SOCKET', `Invalid ${what} on the control socket (not JSON): ${JSON.stringify(line.slice(0, 80))}`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UpdateEngineError(
      'ERR_CONTROL_SOCKET',
      `Invalid ${what} on the control socket: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}
