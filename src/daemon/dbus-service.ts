// The D-Bus adapter beside the control server: update_engine's com.coreos.update1 on the system bus,
// fed by the same ControlHandler and status stream. Root and CONTROL_GROUP may call the methods that
// change things; anybody may call GetStatus and listen. A missing or lost bus is retried, never fatal.

import { EventEmitter } from 'node:events';
import { DBusError, Message, MessageType, NameFlag, RequestNameReply, sessionBus, type MessageBus } from '@jellybrick/dbus-next';
import { UpdateEngineError } from '../errors.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import type { ControlHandler } from './control-protocol.ts';
import { authorizeCaller, BUS_DRIVER } from './dbus-caller.ts';
import { DBUS_ERROR_FAILED, DBUS_INTERFACE, DBUS_METHODS, DBUS_NAME, DBUS_PATH, ManagerInterface, statusBody, type StatusBody } from './dbus-interface.ts';
import type { StatusSnapshot } from './status.ts';

export const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';
/** A progress-only change is signalled when it moved this much (update_engine: 1%); status changes always. */
const PROGRESS_STEP = 0.01;
/** The first reconnect after a loss (ms). */
const QUICK_RETRY_MS = 500;

export interface DbusServiceOptions {
  handler: ControlHandler;
  /** CONTROL_GROUP: whose members may call AttemptUpdate and ResetStatus. */
  groupName: string;
  logger?: Logger;
  /** Default: DBUS_SYSTEM_BUS_ADDRESS, else the system bus socket. */
  busAddress?: string | undefined;
  /** Between attempts to reach the bus, and between liveness pings once connected (ms). */
  retryMs?: number | undefined;
  groupFile?: string;
}

/** The bus emits 'error' (its typings list only 'connect' and 'message'). */
const emitter = (bus: MessageBus) => bus as unknown as EventEmitter;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class DbusService {
  readonly busAddress: string;
  readonly #options: DbusServiceOptions;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #iface = new ManagerInterface();
  readonly #unwatch: () => void;
  #bus: MessageBus | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #lastSent: StatusBody | undefined;
  readonly #connectedWaiters = new Set<() => void>();
  readonly #loop: Promise<void>;

  private constructor(options: DbusServiceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#retryMs = options.retryMs ?? 5000;
    this.busAddress = options.busAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? DEFAULT_SYSTEM_BUS;
    this.#unwatch = options.handler.watch((snapshot) => this.#signal(snapshot));
    this.#loop = this.#run();
  }

  /** Starts serving; resolves at once. Without a bus it warns and keeps trying every retryMs. */
  static start(options: DbusServiceOptions): DbusService {
    return new DbusService(options);
  }

  /** True while the name com.coreos.update1 is ours on the bus. */
  get connected(): boolean {
    return this.#bus !== undefined;
  }

  /** Resolves once the name is ours (at once when it is). */
  whenConnected(): Promise<void> {
    if (this.#bus) return Promise.resolve();
    return new Promise((resolve) => this.#connectedWaiters.add(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unwatch();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let lostOnce = false;
    while (!this.#closed) {
      let bus: MessageBus | undefined;
      try {
        bus = await this.#connect();
        if (failures > 0) this.#logger.info({ busAddress: this.busAddress }, 'D-Bus system bus is back');
        failures = 0;
        this.#bus = bus;
        this.#lastSent = undefined;
        this.#signal(await this.#options.handler.status());
        this.#logger.info({ busAddress: this.busAddress, name: DBUS_NAME }, 'D-Bus interface com.coreos.update1 serving');
        for (const resolve of this.#connectedWaiters) resolve();
        this.#connectedWaiters.clear();
        const why = await this.#untilLost(bus);
        if (!this.#closed) this.#logger.warn({ busAddress: this.busAddress, err: why }, `Lost the D-Bus system bus; reconnecting every ${this.#retryMs} ms`);
        failures = 1;
        lostOnce = true;
      } catch (e) {
        if (failures === 0)
          this.#logger.warn(
            { busAddress: this.busAddress, err: e },
            `No D-Bus system bus to serve com.coreos.update1 on (${(e as Error).message}); retrying every ${this.#retryMs} ms`,
          );
        else this.#logger.debug({ err: e }, 'D-Bus system bus still not reachable');
        failures += 1;
      } finally {
        this.#bus = undefined;
        bus?.disconnect();
      }
      // The first attempt after a loss comes soon: a restarted bus is usually back within a second.
      if (!this.#closed) await this.#sleep(lostOnce ? Math.min(this.#retryMs, QUICK_RETRY_MS) : this.#retryMs);
      lostOnce = false;
    }
  }

  async #connect(): Promise<MessageBus> {
    // sessionBus() is the library's "connect to this address" (its systemBus() ignores a given address).
    const bus = sessionBus({ busAddress: this.busAddress, authMethods: ['EXTERNAL'] });
    const ready = new Promise<void>((resolve, reject) => {
      bus.once('connect', resolve);
      emitter(bus).once('error', reject);
    });
    // An 'error' without a listener would throw; #untilLost adds its own listener.
    emitter(bus).on('error', (e: unknown) => this.#logger.debug({ err: e }, 'D-Bus connection error'));
    try {
      await withTimeout(ready, 5000, `Connecting to ${this.busAddress}`);
      bus.addMethodHandler((msg: Message) => this.#onMethodCall(bus, msg));
      bus.export(DBUS_PATH, this.#iface);
      const reply = await withTimeout(bus.requestName(DBUS_NAME, NameFlag.DO_NOT_QUEUE), 5000, 'RequestName');
      if (reply !== RequestNameReply.PRIMARY_OWNER) throw new Error(`another process owns ${DBUS_NAME} (is update_engine running?)`);
      return bus;
    } catch (e) {
      bus.disconnect();
      throw e;
    }
  }

  /** Resolves (with the reason) when the connection fails or the bus stops answering. */
  #untilLost(bus: MessageBus): Promise<unknown> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (why?: unknown) => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(why);
      };
      this.#wake = done;
      emitter(bus).once('error', done);
      // The end of the stream, at once (a field of the pinned library version; the GetId ping below
      // notices a silent loss when it is not there).
      const connection = (bus as unknown as { _connection?: unknown })._connection;
      if (connection instanceof EventEmitter) connection.once('end', () => done(new Error('the bus closed the connection')));
      const ping = () => {
        // GetId: the system bus policy lets anybody call the driver's own interface (not Peer.Ping).
        const call = bus.call(new Message({ ...BUS_DRIVER, member: 'GetId' }));
        const again = () => {
          if (!this.#closed) timer = setTimeout(ping, this.#retryMs);
        };
        // An error reply still proves the bus is there; a closed stream or no answer does not.
        withTimeout(call, Math.max(1000, this.#retryMs), 'GetId').then(again, (e: unknown) => (e instanceof DBusError ? again() : done(e)));
      };
      if (this.#closed) done();
      else timer = setTimeout(ping, this.#retryMs);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** StatusUpdate at every change of the five values (progress alone: in steps of 1%, and at 100%). */
  #signal(snapshot: StatusSnapshot): void {
    if (!this.#bus) return;
    const body = statusBody(snapshot);
    const last = this.#lastSent;
    if (last && body[0] === last[0] && body[2] === last[2] && body[3] === last[3] && body[4] === last[4]) {
      const moved = Math.abs(body[1] - last[1]);
      if (moved === 0 || (moved < PROGRESS_STEP && body[1] !== 1)) return;
    }
    this.#lastSent = body;
    try {
      this.#iface.StatusUpdate(body);
    } catch (e) {
      this.#logger.warn({ err: e }, 'Cannot send the D-Bus StatusUpdate signal');
    }
  }

  /** Answers com.coreos.update1.Manager's methods on our object; anything else goes to the library. */
  #onMethodCall(bus: MessageBus, msg: Message): boolean {
    if (msg.type !== MessageType.METHOD_CALL || msg.path !== DBUS_PATH) return false;
    if (msg.interface !== undefined && msg.interface !== DBUS_INTERFACE) return false;
    const member = msg.member ?? '';
    const spec = Object.hasOwn(DBUS_METHODS, member) ? DBUS_METHODS[member] : undefined;
    if (!spec) return false;
    if ((msg.signature ?? '') !== '') {
      this.#reply(bus, Message.newError(msg, 'org.freedesktop.DBus.Error.InvalidArgs', `${member} takes no arguments`));
      return true;
    }
    void this.#answer(bus, msg, member, spec.changes, spec.outSignature);
    return true;
  }

  /** Sends a reply; a connection that closed meanwhile is the reconnect loop's business, not an error here. */
  #reply(bus: MessageBus, message: Message): void {
    try {
      bus.send(message);
    } catch (e) {
      this.#logger.debug({ err: e }, 'Cannot send a D-Bus reply: the connection closed');
    }
  }

  async #answer(bus: MessageBus, msg: Message, member: string, changes: boolean, outSignature: string): Promise<void> {
    try {
      if (changes)
        await authorizeCaller(bus, {
          sender: msg.sender ?? '',
          member,
          groupName: this.#options.groupName,
          logger: this.#logger,
          ...(this.#options.groupFile ? { groupFile: this.#options.groupFile } : {}),
        });
      const handler = this.#options.handler;
      let body: unknown[] = [];
      if (member === 'GetStatus') body = statusBody(await handler.status());
      else if (member === 'AttemptUpdate') {
        const result = await handler.check();
        this.#logger.info({ caller: msg.sender, started: result.started }, `D-Bus AttemptUpdate: ${result.message}`);
        // update_engine answers success when a check runs already; a check that cannot run at all is an error.
        if (!result.started && !/already running/.test(result.message)) throw new UpdateEngineError('ERR_UPDATE_IN_PROGRESS', result.message);
      } else {
        const result = await handler.reset();
        this.#logger.info({ caller: msg.sender }, `D-Bus ResetStatus: ${result.message}`);
      }
      this.#reply(bus, Message.newMethodReturn(msg, outSignature, body));
    } catch (e) {
      if (e instanceof DBusError) this.#reply(bus, Message.newError(msg, e.type, e.text));
      else if (e instanceof UpdateEngineError) this.#reply(bus, Message.newError(msg, DBUS_ERROR_FAILED, `${e.code}: ${e.message}`));
      else {
        this.#logger.error({ err: e, member }, 'D-Bus method failed with a bug');
        this.#reply(bus, Message.newError(msg, DBUS_ERROR_FAILED, `ERR_INTERNAL: The daemon failed: ${e instanceof Error ? e.message : String(e)}`));
      }
    }
  }
}
