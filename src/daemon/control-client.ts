// The client side of the control socket (used by update_engine_client): connect with clear errors
// when the daemon is not running or access is denied, then status, check, reset and watch requests.

import { createConnection, type Socket } from 'node:net';
import type { z } from 'zod';
import { UpdateEngineError } from '../errors.ts';
import {
  LineDecoder,
  encodeLine,
  parseLine,
  responseSchema,
  resultSchemas,
  type CheckResult,
  type ControlMethod,
  type ControlResponse,
  type ResetResult,
  type NeedRebootResult,
} from './control-protocol.ts';
import type { StatusSnapshot } from './status.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: UpdateEngineError) => void;
}

function connectError(path: string, e: NodeJS.ErrnoException): UpdateEngineError {
  const why: Record<string, string> = {
    ENOENT: 'the socket does not exist (is the update-engine daemon running?)',
    ECONNREFUSED: 'connection refused (the daemon is not running; the socket is stale)',
    EACCES: 'permission denied (only root and members of CONTROL_GROUP may use it)',
    EPERM: 'permission denied (only root and members of CONTROL_GROUP may use it)',
    ENOTSOCK: 'the path is not a socket',
  };
  const reason = why[e.code ?? ''] ?? e.message;
  return new UpdateEngineError('ERR_CONTROL_SOCKET', `Cannot connect to the update daemon at "${path}": ${reason}`, { cause: e });
}

/** A result validated by its schema; anything else is ERR_CONTROL_SOCKET. */
function checked<T>(schema: z.ZodType<T>, value: unknown, method: ControlMethod): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new UpdateEngineError(
    'ERR_CONTROL_SOCKET',
    `Invalid "${method}" result from the update daemon: ${issue?.path.join('.') || 'result'}: ${issue?.message ?? 'invalid'}`,
  );
}

/** One connection to the daemon. Requests may overlap; a watch keeps streaming until close(). */
export class ControlClient {
  readonly socketPath: string;
  /** Resolves when the connection ends: 'local' after close(), 'remote' when the daemon closed it. */
  readonly closed: Promise<'local' | 'remote'>;
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #watchers = new Map<number, (snapshot: StatusSnapshot) => void>();
  #nextId = 1;
  #closedLocally = false;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.#socket = socket;
    const decoder = new LineDecoder();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const line of decoder.push(chunk)) this.#onResponse(parseLine(line, responseSchema, 'response'));
      } catch (e) {
        this.#failAll(e as UpdateEngineError);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#failAll(new UpdateEngineError('ERR_CONTROL_SOCKET', `The update daemon closed the connection on "${socketPath}"`));
        resolve(this.#closedLocally ? 'local' : 'remote');
      });
    });
  }

  /** Connects; throws ERR_CONTROL_SOCKET with the path and the reason (not running, denied, ...). */
  static connect(socketPath: string, options: { timeoutMs?: number } = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new UpdateEngineError(
            'ERR_CONTROL_SOCKET',
            `Cannot connect to the update daemon at "${socketPath}": no answer within ${options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`,
          ),
        );
      }, options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socketPath, socket));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(socketPath, e));
      });
    });
  }

  async status(): Promise<StatusSnapshot> {
    return checked(resultSchemas.status, await this.#request('status'), 'status');
  }

  /** Asks for an update check now; resolves at once (the check runs in the daemon). */
  async check(): Promise<CheckResult> {
    return checked(resultSchemas.check, await this.#request('check'), 'check');
  }

  /** -reset_status: the daemon undoes a pending update. */
  async reset(): Promise<ResetResult> {
    return checked(resultSchemas.reset, await this.#request('reset'), 'reset');
  }

  /** `locksmithctl send-need-reboot`: tells the daemon a reboot is needed (its reboot strategy runs). */
  async needReboot(): Promise<NeedRebootResult> {
    return checked(resultSchemas['need-reboot'], await this.#request('need-reboot'), 'need-reboot');
  }

  /** Streams status snapshots to `onSnapshot`, the current one first; resolves once that one arrived. */
  watch(onSnapshot: (snapshot: StatusSnapshot) => void): Promise<StatusSnapshot> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      let first = true;
      this.#watchers.set(id, (snapshot) => {
        if (first) {
          first = false;
          this.#pending.delete(id);
          resolve(snapshot);
        }
        onSnapshot(snapshot);
      });
      this.#pending.set(id, { resolve: () => undefined, reject });
      this.#send(id, 'watch');
    });
  }

  close(): void {
    this.#closedLocally = true;
    this.#socket.end();
    this.#socket.destroySoon();
  }

  #request(method: Exclude<ControlMethod, 'watch'>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      this.#send(id, method);
    });
  }

  #send(id: number, method: ControlMethod): void {
    if (this.#socket.destroyed) {
      this.#failAll(new UpdateEngineError('ERR_CONTROL_SOCKET', `The connection to the update daemon at "${this.socketPath}" is closed`));
      return;
    }
    this.#socket.write(encodeLine({ id, method }));
  }

  #onResponse(response: ControlResponse): void {
    if ('event' in response) {
      this.#watchers.get(response.id)?.(response.snapshot);
      return;
    }
    const id = response.id;
    if (id === null) {
      // The daemon could not read a request at all: fail everything outstanding.
      if (!response.ok) this.#failAll(new UpdateEngineError(response.error.code, response.error.message));
      return;
    }
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    this.#watchers.delete(id);
    if (response.ok) pending.resolve(response.result);
    else pending.reject(new UpdateEngineError(response.error.code, response.error.message));
  }

  #failAll(error: UpdateEngineError): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
