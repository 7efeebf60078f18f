// systemd readiness, status and watchdog (sd_notify: READY=1, STATUS=, WATCHDOG=1, STOPPING=1). Node has
// no Unix datagram sockets and the npm bindings are native addons, so each message is sent by systemd's
// own `systemd-notify --pid=OUR_PID`, which (as root) sends it in our name and waits for systemd to take it.

import { execArgv } from './exec.ts';
import { silentLogger, type Logger } from './logger.ts';

export interface SystemdNotifierOptions {
  /** NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID as systemd sets them (default: process.env). */
  env?: NodeJS.ProcessEnv | undefined;
  logger?: Logger;
  /** The sender (default: systemd-notify on PATH). */
  command?: string;
  pid?: number;
}

/** The watchdog interval systemd asks for, in ms, or undefined when there is none for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return usec / 1000;
}

export class SystemdNotifier {
  readonly #env: NodeJS.ProcessEnv;
  readonly #logger: Logger;
  readonly #command: string;
  readonly #pid: number;
  #watchdog: NodeJS.Timeout | undefined;
  /** One systemd-notify at a time; a newer STATUS replaces a waiting one. */
  #inFlight: Promise<void> | undefined;
  #pendingStatus: string | undefined;
  #lastStatus: string | undefined;
  #warned = false;

  private constructor(options: SystemdNotifierOptions) {
    this.#env = options.env ?? process.env;
    this.#logger = options.logger ?? silentLogger();
    this.#command = options.command ?? 'systemd-notify';
    this.#pid = options.pid ?? process.pid;
  }

  /** A notifier when systemd started us with NOTIFY_SOCKET (Type=notify); otherwise undefined. */
  static fromEnvironment(options: SystemdNotifierOptions = {}): SystemdNotifier | undefined {
    const env = options.env ?? process.env;
    return env.NOTIFY_SOCKET ? new SystemdNotifier(options) : undefined;
  }

  /** READY=1 with the first STATUS= (and the watchdog pings, if not yet started). */
  async ready(status: string): Promise<void> {
    this.#lastStatus = status;
    await this.#send(['READY=1', `STATUS=${status}`]);
    this.startWatchdog();
  }

  /**
   * WATCHDOG=1 every half WATCHDOG_USEC from the event loop. systemd arms the watchdog when the
   * process starts, so the pings begin before READY=1 (the post-boot health gate may take minutes).
   */
  startWatchdog(): void {
    const interval = watchdogIntervalMs(this.#env, this.#pid);
    if (interval !== undefined && this.#watchdog === undefined) {
      // A timer on the main loop: when the loop hangs the pings stop and systemd restarts the daemon.
      this.#watchdog = setInterval(() => void this.#send(['WATCHDOG=1']), Math.max(500, interval / 2));
      this.#watchdog.unref();
      this.#logger.info({ watchdogMs: interval }, 'systemd watchdog armed');
    }
  }

  /** STATUS= (what `systemctl status` shows); repeated texts are not sent again. */
  status(text: string): void {
    if (text === this.#lastStatus) return;
    this.#lastStatus = text;
    if (this.#inFlight) {
      this.#pendingStatus = text;
      return;
    }
    void this.#send([`STATUS=${text}`]);
  }

  /** STOPPING=1 and no more watchdog pings. */
  async stopping(): Promise<void> {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    await this.#send(['STOPPING=1', 'STATUS=Stopping']);
  }

  async #send(assignments: string[]): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
    const run = this.#run(assignments);
    this.#inFlight = run;
    try {
      await run;
    } finally {
      this.#inFlight = undefined;
      const pending = this.#pendingStatus;
      this.#pendingStatus = undefined;
      if (pending !== undefined) void this.#send([`STATUS=${pending}`]);
    }
  }

  async #run(assignments: string[]): Promise<void> {
    let problem: string | undefined;
    try {
      const result = await execArgv([this.#command, `--pid=${this.#pid}`, ...assignments], { env: this.#env, timeoutMs: 10_000 });
      if (result.exitCode !== 0) problem = `exit ${result.exitCode ?? result.signal}: ${result.stderr.trim()}`;
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
    if (problem === undefined) return;
    const log = this.#warned ? this.#logger.debug.bind(this.#logger) : this.#logger.warn.bind(this.#logger);
    this.#warned = true;
    log({ sent: assignments }, `Cannot tell systemd "${assignments.join(' ')}" with ${this.#command} (${problem})`);
  }

  /** Stops the watchdog pings (without STOPPING=1) and waits for a message in flight. */
  async close(): Promise<void> {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    while (this.#inFlight) await this.#inFlight;
  }
}

/**
 * The STATUS= text for a status: `UPDATE_STATUS_DOWNLOADING 40% of 2.0.0`. Progress in steps of 10%:
 * each message costs a systemd-notify process (about 60 ms here), so a download sends about ten.
 */
export function statusLine(status: string, progress: number, newVersion: string): string {
  const parts = [status];
  if (progress > 0 && progress < 1) parts.push(`${Math.floor(progress * 10) * 10}%`);
  if (newVersion !== '' && newVersion !== '0.0.0') parts.push(`${progress > 0 && progress < 1 ? 'of' : 'version'} ${newVersion}`);
  return parts.join(' ');
}
