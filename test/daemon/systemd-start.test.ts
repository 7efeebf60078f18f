// The real `update-engine daemon` process started as systemd starts the unit: NOTIFY_SOCKET,
// WATCHDOG_USEC and the system bus address in its environment. It says READY=1 in its own pid's name
// once it serves, pings the watchdog, owns com.coreos.update1, and on SIGTERM says STOPPING=1 and exits 0.

import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_PUBLIC_KEY, UpdateLab } from '../../src/demo/lab.ts';
import { REPO_ROOT, cleanEnv } from '../helpers/cli.ts';
import { PrivateSystemBus } from '../helpers/dbus-daemon.ts';
import { startNotifyReceiver, type Datagram } from '../helpers/notify-receiver.ts';
import { isRoot, requireTool } from '../helpers/tools.ts';

const exec = promisify(execFile);
let dir: string;
let lab: UpdateLab;
let bus: PrivateSystemBus;
let receiver: ChildProcess | undefined;
const received: Datagram[] = [];

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(received)}`);
}

beforeEach(async () => {
  requireTool('busctl');
  dir = await mkdtemp(join(tmpdir(), 'ue-systemd-start-'));
  received.length = 0;
  bus = await PrivateSystemBus.start(dir);
  receiver = await startNotifyReceiver(join(dir, 'notify.sock'), received);
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 4 * 1024 * 1024 });
  await lab.setUp();
});
afterEach(async () => {
  receiver?.kill('SIGTERM');
  await bus?.stop();
  await lab?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('update-engine daemon under a systemd-like start', () => {
  it.each([
    { capabilities: 'all', sysAdmin: true },
    // The unit's CapabilityBoundingSet= has no CAP_SYS_ADMIN: systemd-notify cannot send in the
    // daemon's pid and sends in its own, which NotifyAccess=all accepts (its barrier waits for systemd).
    { capabilities: "the unit's (no CAP_SYS_ADMIN)", sysAdmin: false },
  ])('READY=1, watchdog pings, com.coreos.update1 on the bus, STOPPING=1 and exit 0 on SIGTERM, with $capabilities capabilities', async ({ sysAdmin }) => {
    if (!isRoot()) throw new Error('This test needs root (systemd starts the daemon as root; CI runs as root)');
    const conf = join(dir, 'update.conf');
    const settings = ['SERVER=disabled', 'VERSION=1.0.0', `DISK=${lab.disk}`, 'BOOTED_PARTITION=3', `PUBLIC_KEYS=${TEST_PUBLIC_KEY}`];
    settings.push(`STATE_DIR=${lab.stateDir}`, `RUN_DIR=${lab.runDir}`, 'REBOOT_STRATEGY=off', 'DBUS=true');
    await writeFile(conf, `${settings.join('\n')}\n`);
    const env = cleanEnv({ NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '500000', DBUS_SYSTEM_BUS_ADDRESS: bus.address });
    const argv = [process.execPath, `${REPO_ROOT}bin/update-engine.js`, 'daemon', '--sysroot', dir, '--config', conf];
    const dropped = ['--bounding-set=-sys_admin', '--inh-caps=-sys_admin'];
    const [file, args] = sysAdmin ? [argv[0] as string, argv.slice(1)] : ['setpriv', [...dropped, ...argv]];
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => received.some((d) => d.text.split('\n').includes('READY=1')), 'READY=1');
      const ready = received.find((d) => d.text.split('\n').includes('READY=1')) as Datagram;
      expect(ready.text).toContain('STATUS=UPDATE_STATUS_IDLE');
      if (sysAdmin) expect(ready.pid).toBe(child.pid);
      else expect(ready.pid).not.toBe(child.pid);
      expect(ready.text.split('\n')).toContain(`MAINPID=${child.pid}`);
      const getStatus = () =>
        exec('busctl', ['--system', 'call', 'com.coreos.update1', '/com/coreos/update1', 'com.coreos.update1.Manager', 'GetStatus'], {
          env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
        }).then(
          (r) => r.stdout,
          () => '',
        );
      await waitFor(async () => (await getStatus()).startsWith('xdssx 0 0 "UPDATE_STATUS_IDLE"'), 'GetStatus on the bus');
      await waitFor(() => received.filter((d) => d.text.split('\n').includes('WATCHDOG=1')).length >= 2, 'two watchdog pings');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(received.some((d) => d.text.includes('STOPPING=1'))).toBe(true);
    expect(stderr).not.toMatch(/"level":(50|60)/);
  });
});
