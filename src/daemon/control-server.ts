// The daemon's control socket: a Unix socket at CONTROL_SOCKET, mode 0660, owned by the daemon's
// user (root) and CONTROL_GROUP, so that only root and the group's members can connect. It serves
// control-protocol.ts requests through a ControlHandler (the attempter).

import { once } from 'node:events';
import { chmod, chown, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { clearStaleSocket } from '../platform/unix-socket.ts';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import {
  LineDecoder,
  encodeLine,
  errorResponse,
  parseLine,
  requestSchema,
  type ControlHandler,
  type ControlRequest,
  type ControlResponse,
} from './control-protocol.ts';
import type { StatusSnapshot } from './status.ts';
import { tempPathFor } from '../platform/temp-file.ts';

export const SOCKET_MODE = 0o660;
/** Unix socket paths are limited to 107 bytes on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;
/** A watcher that lets this many status changes pile up unread is disconnected. */
const MAX_QUEUED_SNAPSHOTS = 1000;

/** The gid of a group name from /etc/group (a number that is no group name is taken as a gid). */
export async function lookupGroupId(name: string, groupFile = '/etc/group'): Promise<number> {
  let text: string;
  try {
    text = await readFile(groupFile, 'utf8');
  } catch (e) {
    throw new UpdateEngineError('ERR_CONTROL_SOCKET', `Cannot read "${groupFile}" to look up CONTROL_GROUP "${name}": ${(e as Error).message}`, { cause: e });
  }
  for (const line of text.split('\n')) {
    const [groupName, , gid] = line.split(':');
    if (groupName === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  if (/^\d+$/.test(name)) return Number(name);
  throw new UpdateEngineError('ERR_CONFIG_VALUE', `CONTROL_GROUP "${name}" is not a group in "${groupFile}"`);
}

export interface ControlServerOptions {
  socketPath: string;
  /** CONTROL_GROUP: the group whose members may connect. */
  groupName: string;
  handler: ControlHandler;
  logger?: Logger;
  /** Where group names are looked up (default /etc/group). */
  groupFile?: string;
}

export class ControlServer {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #handler: ControlHandler;
  readonly #logger: Logger;
  #inode = 0;

  private constructor(options: ControlServerOptions) {
    this.socketPath = options.socketPath;
    this.#handler = options.handler;
    this.#logger = options.logger ?? silentLogger();
    this.#server = createServer((socket) => this.#onConnection(socket));
  }

  /**
   * Creates the parent directory (0755) if needed, removes a stale socket (one nobody listens on),
   * refuses to start when another daemon listens or the path is not a socket, then binds a temporary
   * name, sets mode 0660 and the group, and renames it into place (never reachable with wider rights).
   */
  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const path = options.socketPath;
    const fail = (why: string, cause?: unknown) => new UpdateEngineError('ERR_CONTROL_SOCKET', `Cannot serve the control socket "${path}": ${why}`, { cause });
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw fail(`the path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    const gid = await lookupGroupId(options.groupName, options.groupFile);
    const dir = dirname(path);
    try {
      if ((await mkdir(dir, { recursive: true, mode: 0o755 })) !== undefined) await chmod(dir, 0o755);
    } catch (e) {
      throw fail(`cannot create "${dir}": ${(e as Error).message}`, e);
    }
    let cleared: 'absent' | 'removed';
    try {
      cleared = await clearStaleSocket(path);
    } catch (e) {
      throw fail((e as Error).message.replace('another process', 'another daemon'), e);
    }
    if (cleared === 'removed') options.logger?.info({ socketPath: path }, 'removed a stale control socket');
    const server = new ControlServer(options);
    const temp = tempPathFor(path); // random: a guessable name could be prepared by someone else
    await rm(temp, { force: true });
    try {
      server.#server.listen(temp);
      await once(server.#server, 'listening');
      await chmod(temp, SOCKET_MODE);
      await chown(temp, process.getuid?.() ?? 0, gid);
      await rename(temp, path);
      server.#inode = (await stat(path)).ino;
    } catch (e) {
      server.#server.close();
      await rm(temp, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EPERM' ? `cannot give it to group "${options.groupName}" (gid ${gid}) without root` : (e as Error).message;
      throw fail(why, e);
    }
    server.#logger.info({ socketPath: path, group: options.groupName, gid }, 'control socket listening');
    return server;
  }

  /** Stops listening, disconnects every client and removes the socket file (if it is still ours). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    const current = await stat(this.socketPath).catch(() => undefined);
    if (current && current.ino === this.#inode) await rm(this.socketPath, { force: true });
  }

  #onConnection(socket: Socket): void {
    this.#sockets.add(socket);
    const decoder = new LineDecoder();
    const unsubscribes: Array<() => void> = [];
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = decoder.push(chunk);
      } catch (e) {
        socket.end(encodeLine(errorResponse(null, e)));
        return;
      }
      for (const line of lines) void this.#onLine(socket, line, unsubscribes);
    });
    socket.on('error', (e) => this.#logger.debug({ err: e }, 'control client connection error'));
    socket.on('close', () => {
      this.#sockets.delete(socket);
      for (const unsubscribe of unsubscribes) unsubscribe();
    });
  }

  async #onLine(socket: Socket, line: string, unsubscribes: Array<() => void>): Promise<void> {
    let request: ControlRequest;
    try {
      request = parseLine(line, requestSchema, 'request');
    } catch (e) {
      send(socket, errorResponse(null, e));
      return;
    }
    try {
      switch (request.method) {
        case 'status':
          send(socket, { id: request.id, ok: true, result: await this.#handler.status() });
          break;
        case 'check':
          send(socket, { id: request.id, ok: true, result: await this.#handler.check() });
          break;
        case 'reset':
          send(socket, { id: request.id, ok: true, result: await this.#handler.reset() });
          break;
        case 'need-reboot': {
          if (!this.#handler.needReboot) throw new UpdateEngineError('ERR_USAGE', 'This daemon does not take "need-reboot"');
          send(socket, { id: request.id, ok: true, result: await this.#handler.needReboot() });
          break;
        }
        case 'watch': {
          const unsubscribe = await this.#watch(socket, request.id);
          // The client may have gone while the first snapshot was read.
          if (socket.destroyed) unsubscribe();
          else unsubscribes.push(unsubscribe);
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof UpdateEngineError)) this.#logger.error({ err: e, method: request.method }, 'control request failed with a bug');
      send(socket, errorResponse(request.id, e));
    }
  }

  /** Sends the current snapshot, then every change. Under backpressure, progress-only changes are coalesced. */
  async #watch(socket: Socket, id: number): Promise<() => void> {
    const queue: StatusSnapshot[] = [];
    const write = (snapshot: StatusSnapshot) => send(socket, { id, event: 'status', snapshot });
    const onSnapshot = (snapshot: StatusSnapshot) => {
      if (!socket.writableNeedDrain && queue.length === 0) return write(snapshot);
      const last = queue.at(-1);
      if (last && last.status === snapshot.status) queue[queue.length - 1] = snapshot;
      else queue.push(snapshot);
      if (queue.length > MAX_QUEUED_SNAPSHOTS) socket.destroy();
    };
    const onDrain = () => {
      while (queue.length > 0 && !socket.writableNeedDrain) write(queue.shift() as StatusSnapshot);
    };
    socket.on('drain', onDrain);
    const current = await this.#handler.status();
    write(current);
    const unsubscribe = this.#handler.watch(onSnapshot);
    return () => {
      socket.off('drain', onDrain);
      unsubscribe();
    };
  }
}

function send(socket: Socket, response: ControlResponse): void {
  if (!socket.destroyed && socket.writable) socket.write(encodeLine(response));
}
