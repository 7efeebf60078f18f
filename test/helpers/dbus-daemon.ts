// A private dbus-daemon for tests, configured as the system bus: Debian's own system.conf with the
// listen address moved into a temp dir, no fork, no user switch, and only our policy file included.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.ts';
import { requireTool } from './tools.ts';

export const SYSTEM_CONF = '/usr/share/dbus-1/system.conf';
export const POLICY_FILE = join(REPO_ROOT, 'systemd', 'dbus', 'com.coreos.update1.conf');

/** Debian's system.conf, made to run unprivileged-in-place in `dir` with only `policyFile` added. */
export function systemBusConfig(systemConf: string, socketPath: string, policyFile: string): string {
  const drop = [
    /<user>[^<]*<\/user>/g,
    /<fork\/>/g,
    /<pidfile>[^<]*<\/pidfile>/g,
    /<syslog\/>/g,
    /<servicehelper>[^<]*<\/servicehelper>/g,
    /<standard_system_servicedirs\/>/g,
  ];
  let text = systemConf;
  for (const re of drop) text = text.replace(re, '');
  text = text.replace(/<listen>[^<]*<\/listen>/, `<listen>unix:path=${socketPath}</listen>`);
  text = text.replace(/<include(dir)?\b[^>]*>[^<]*<\/include(dir)?>/g, '');
  if (!text.includes(socketPath)) throw new Error(`No <listen> element in ${SYSTEM_CONF}`);
  return text.replace('</busconfig>', `  <include>${policyFile}</include>\n</busconfig>`);
}

export class PrivateSystemBus {
  readonly socketPath: string;
  readonly address: string;
  readonly configPath: string;
  #child: ChildProcess | undefined;

  private constructor(readonly dir: string) {
    this.socketPath = join(dir, 'system_bus_socket');
    this.address = `unix:path=${this.socketPath}`;
    this.configPath = join(dir, 'system-bus.conf');
  }

  /** Writes the configuration and starts the daemon; `dir` is made traversable for other uids. */
  static async start(dir: string, policyFile = POLICY_FILE): Promise<PrivateSystemBus> {
    requireTool('dbus-daemon');
    if (!existsSync(SYSTEM_CONF)) throw new Error(`This test needs "${SYSTEM_CONF}" (apt-get install dbus-system-bus-common); run scripts/setup.sh`);
    const bus = new PrivateSystemBus(dir);
    await chmod(dir, 0o755);
    await writeFile(bus.configPath, systemBusConfig(await readFile(SYSTEM_CONF, 'utf8'), bus.socketPath, policyFile));
    await bus.resume();
    return bus;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts dbus-daemon (again) on the same socket; resolves once it prints its address. */
  async resume(): Promise<void> {
    if (this.#child) return;
    const child = spawn('dbus-daemon', ['--nofork', `--config-file=${this.configPath}`, '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const printed = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => (d.toString().includes(this.socketPath) ? resolve() : undefined));
      child.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}: ${stderr}`)));
    });
    this.#child = child;
    await printed;
  }

  /** Stops the daemon (SIGTERM) and waits for it to exit; clients see the bus go away. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
}
