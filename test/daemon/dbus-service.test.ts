// The daemon on a private dbus-daemon configured as the system bus (Debian's system.conf and our policy
// file), driven by clients no one here wrote: gdbus, busctl, dbus-monitor; a non-member (setpriv) is
// refused the changing methods; a locksmithd-like listener gets NEED_REBOOT; the bus goes and comes back.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { Message, sessionBus } from '@jellybrick/dbus-next';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { ControlClient } from '../../src/daemon/control-client.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { PrivateSystemBus } from '../helpers/dbus-daemon.ts';
import { isRoot, requireTool } from '../helpers/tools.ts';

const exec = promisify(execFile);
const DEST = ['--dest', 'com.coreos.update1', '--object-path', '/com/coreos/update1'];
const BUSCTL = ['com.coreos.update1', '/com/coreos/update1', 'com.coreos.update1.Manager'];
/** A gid that is in no /etc/group: CONTROL_GROUP may be a number. */
const CONTROL_GID = '4242';

let dir: string;
let lab: UpdateLab;
let bus: PrivateSystemBus;
let stop: AbortController;
let daemon: Promise<number> | undefined;
/** The daemon's log lines (level and message). */
let logLines: Array<{ level: number; msg: string }> = [];

async function run(cmd: string, args: string[], asNobody: string[] | undefined = undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, argv] = asNobody ? ['setpriv', [...asNobody, cmd, ...args]] : [cmd, args];
  try {
    const r = await exec(file, argv, { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startDaemon(extra: Record<string, string> = {}, address = bus.address): void {
  stop = new AbortController();
  const settings = lab.settings({ dbus: 'true', controlGroup: CONTROL_GID, rebootStrategy: 'off', ...extra });
  const sink = new PassThrough();
  logLines = [];
  sink.on('data', (c: Buffer) =>
    logLines.push(
      ...c
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
    ),
  );
  const logger = createLogger({ level: 'info', pretty: false, destination: sink });
  daemon = runDaemon(settings, {
    once: false,
    logger,
    signal: stop.signal,
    identityPaths: lab.identityPaths(),
    system: { dbusAddress: address, dbusRetryMs: 200 },
  });
}

const onBus = async () => (await run('busctl', ['--system', 'list', '--acquired', '--no-legend'])).stdout.includes('com.coreos.update1');
const getStatus = async () => (await run('busctl', ['--system', 'call', ...BUSCTL, 'GetStatus'])).stdout.trim();

beforeEach(async () => {
  for (const tool of ['dbus-daemon', 'gdbus', 'busctl', 'dbus-monitor', 'setpriv', 'sgdisk']) requireTool(tool);
  dir = await mkdtemp(join(tmpdir(), 'ue-dbus-'));
  bus = await PrivateSystemBus.start(dir);
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 4 * 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
  daemon = undefined;
});
afterEach(async () => {
  stop?.abort();
  await daemon;
  await bus?.stop();
  await lab?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('com.coreos.update1 on the system bus', () => {
  it('introspects as update_engine.xml and answers GetStatus to gdbus and busctl as the control socket does', async () => {
    startDaemon();
    await waitFor(onBus, 'the name on the bus');
    const xml = (await run('gdbus', ['introspect', '--system', ...DEST, '--xml'])).stdout;
    const manager = /<interface name="com\.coreos\.update1\.Manager">[\s\S]*?<\/interface>/.exec(xml)?.[0] ?? '';
    expect(manager.match(/<(method|signal) name="(\w+)"/g)).toEqual([
      '<method name="AttemptUpdate"',
      '<method name="ResetStatus"',
      '<method name="GetStatus"',
      '<signal name="StatusUpdate"',
    ]);
    for (const [name, type] of [
      ['last_checked_time', 'x'],
      ['progress', 'd'],
      ['current_operation', 's'],
      ['new_version', 's'],
      ['new_size', 'x'],
    ]) {
      expect(manager).toContain(`<arg name="${name}" type="${type}" direction="out"/>`);
      expect(manager).toContain(`<arg name="${name}" type="${type}"/>`);
    }
    const control = await ControlClient.connect(join(lab.runDir, 'control.sock'));
    try {
      const s = await control.status();
      expect(await getStatus()).toBe(`xdssx ${s.lastCheckedTimeSeconds} ${s.progress} "${s.status}" "${s.newVersion}" ${s.newSizeBytes}`);
      const gdbus = await run('gdbus', ['call', '--system', ...DEST, '--method', 'com.coreos.update1.Manager.GetStatus']);
      expect(gdbus.stderr).toBe('');
      expect(gdbus.stdout.trim()).toBe(`(int64 ${s.lastCheckedTimeSeconds}, 0.0, '${s.status}', '${s.newVersion}', int64 ${s.newSizeBytes})`);
      // AttemptUpdate with busctl as root runs the whole update; ResetStatus with gdbus undoes it.
      expect((await run('busctl', ['--system', 'call', ...BUSCTL, 'AttemptUpdate'])).code).toBe(0);
      await waitFor(async () => (await getStatus()).includes('UPDATE_STATUS_UPDATED_NEED_REBOOT'), 'the update');
      const after = await control.status();
      expect(await getStatus()).toBe(`xdssx ${after.lastCheckedTimeSeconds} 1 "UPDATE_STATUS_UPDATED_NEED_REBOOT" "2.0.0" ${after.newSizeBytes}`);
      expect(after.lastCheckedTimeSeconds).toBeGreaterThan(0);
      const reset = await waitFor(async () => {
        const r = await run('gdbus', ['call', '--system', ...DEST, '--method', 'com.coreos.update1.Manager.ResetStatus']);
        if (r.code !== 0) expect(r.stderr).toContain('com.coreos.update1.Error.Failed: ERR_UPDATE_IN_PROGRESS');
        return r.code === 0 ? r : undefined;
      }, 'ResetStatus to be accepted');
      expect(reset.stdout.trim()).toBe('()');
      expect((await control.status()).status).toBe('UPDATE_STATUS_IDLE');
      expect(await getStatus()).toMatch(/^xdssx \d+ 0 "UPDATE_STATUS_IDLE" "0.0.0" 0$/);
    } finally {
      control.close();
    }
  });

  it('signals StatusUpdate through a full update (dbus-monitor), and a locksmithd-like listener gets NEED_REBOOT', async () => {
    startDaemon();
    await waitFor(onBus, 'the name on the bus');
    // dbus-monitor with locksmith's match rule (updateengine/client.go).
    const rule = "type='signal',interface='com.coreos.update1.Manager',member='StatusUpdate'";
    const monitor = spawn('dbus-monitor', ['--system', rule], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address } });
    let monitored = '';
    monitor.stdout.on('data', (d: Buffer) => (monitored += d.toString()));
    // A locksmithd-like client: AddMatch with the same rule, the body read as locksmith's NewStatus does.
    const listener = sessionBus({ busAddress: bus.address, authMethods: ['EXTERNAL'] });
    const bodies: unknown[][] = [];
    listener.on('message', (m: Message) => (m.member === 'StatusUpdate' && m.interface === 'com.coreos.update1.Manager' ? bodies.push(m.body) : undefined));
    try {
      await listener.call(
        new Message({
          destination: 'org.freedesktop.DBus',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'AddMatch',
          signature: 's',
          body: [rule],
        }),
      );
      await waitFor(() => monitored.includes('member=NameAcquired') || monitored.length > 0, 'dbus-monitor to start');
      await new Promise((r) => setTimeout(r, 300));
      expect((await run('gdbus', ['call', '--system', ...DEST, '--method', 'com.coreos.update1.Manager.AttemptUpdate'])).stdout.trim()).toBe('()');
      await waitFor(() => bodies.find((b) => b[2] === 'UPDATE_STATUS_UPDATED_NEED_REBOOT'), 'NEED_REBOOT at the listener');
      await waitFor(() => monitored.includes('UPDATE_STATUS_UPDATED_NEED_REBOOT'), 'NEED_REBOOT at dbus-monitor');
    } finally {
      monitor.kill('SIGTERM');
      listener.disconnect();
    }
    // Any IDLE before the check (the status sent when the name was taken) is not part of the update.
    const seen = [...monitored.matchAll(/string "(UPDATE_STATUS_\w+)"/g)].map((m) => m[1]);
    while (seen[0] === 'UPDATE_STATUS_IDLE') seen.shift();
    const order = [
      'UPDATE_STATUS_CHECKING_FOR_UPDATE',
      'UPDATE_STATUS_UPDATE_AVAILABLE',
      'UPDATE_STATUS_DOWNLOADING',
      'UPDATE_STATUS_VERIFYING',
      'UPDATE_STATUS_FINALIZING',
      'UPDATE_STATUS_UPDATED_NEED_REBOOT',
    ];
    expect([...new Set(seen)]).toEqual(order);
    expect(monitored).toMatch(/signal .*path=\/com\/coreos\/update1; interface=com\.coreos\.update1\.Manager; member=StatusUpdate/);
    // locksmith's NewStatus: body[0].(int64), body[1].(float64), body[2..3].(string), body[4].(int64).
    const last = bodies.at(-1) as unknown[];
    expect([typeof last[0], typeof last[1], last[2], last[3], typeof last[4]]).toEqual([
      'bigint',
      'number',
      'UPDATE_STATUS_UPDATED_NEED_REBOOT',
      '2.0.0',
      'bigint',
    ]);
    expect(last[1]).toBe(1);
    expect(Number(last[4])).toBeGreaterThan(0);
    const progress = bodies.filter((b) => b[2] === 'UPDATE_STATUS_DOWNLOADING').map((b) => b[1] as number);
    expect(progress.length).toBeGreaterThan(0);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('refuses AttemptUpdate and ResetStatus to a non-member, not GetStatus; a member of CONTROL_GROUP may', async () => {
    if (!isRoot()) throw new Error('This test needs root to run clients as other uids (setpriv); CI runs as root');
    startDaemon({ server: 'disabled' });
    await waitFor(onBus, 'the name on the bus');
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    for (const method of ['AttemptUpdate', 'ResetStatus']) {
      const refused = await run('gdbus', ['call', '--system', ...DEST, '--method', `com.coreos.update1.Manager.${method}`], nobody);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('org.freedesktop.DBus.Error.AccessDenied');
      expect(refused.stderr).toContain(`Only root and members of CONTROL_GROUP "${CONTROL_GID}" may call ${method} (caller uid 65534)`);
    }
    expect((await run('busctl', ['--system', 'call', ...BUSCTL, 'GetStatus'], nobody)).stdout).toMatch(/^xdssx 0 0 "UPDATE_STATUS_IDLE" "0.0.0" 0/);
    expect((await run('busctl', ['--system', 'introspect', 'com.coreos.update1', '/com/coreos/update1'], nobody)).stdout).toContain('.StatusUpdate');
    // The policy file: only root may own the name.
    const own = await run(
      'busctl',
      ['--system', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', 'com.coreos.update1', '4'],
      nobody,
    );
    expect(own.stderr).toMatch(/not allowed to own the service "com\.coreos\.update1"|Access denied/);
    const member = ['--reuid=65534', '--regid=65534', `--groups=${CONTROL_GID}`];
    expect((await run('gdbus', ['call', '--system', ...DEST, '--method', 'com.coreos.update1.Manager.ResetStatus'], member)).stdout.trim()).toBe('()');
    // With SERVER=disabled an update cannot run: the member gets a clear error, not a silent success.
    const attempt = await run('gdbus', ['call', '--system', ...DEST, '--method', 'com.coreos.update1.Manager.AttemptUpdate'], member);
    expect(attempt.stderr).toContain('com.coreos.update1.Error.Failed');
    expect(attempt.stderr).toContain('SERVER=disabled');
  });

  it('warns and waits when there is no bus at start, and survives the bus going away and coming back', async () => {
    await bus.stop();
    startDaemon();
    await waitFor(() => existsSync(join(lab.runDir, 'control.sock')), 'the control socket');
    // A warning (level 40), not a failure: the daemon serves its control socket meanwhile.
    const warning = await waitFor(() => logLines.find((l) => l.msg.startsWith('No D-Bus system bus to serve com.coreos.update1 on')), 'the warning');
    expect(warning.level).toBe(40);
    await bus.resume();
    await waitFor(onBus, 'the name once the bus appears');
    await bus.stop();
    await waitFor(() => logLines.some((l) => l.level === 40 && l.msg.startsWith('Lost the D-Bus system bus')), 'the warning about the lost bus');
    const control = await ControlClient.connect(join(lab.runDir, 'control.sock'));
    try {
      expect((await control.status()).status).toBe('UPDATE_STATUS_IDLE');
      await bus.resume();
      await waitFor(onBus, 'the name after the bus came back');
      expect(await getStatus()).toMatch(/^xdssx 0 0 "UPDATE_STATUS_IDLE" "0.0.0" 0$/);
      expect((await run('busctl', ['--system', 'call', ...BUSCTL, 'AttemptUpdate'])).code).toBe(0);
      await waitFor(async () => (await getStatus()).includes('UPDATE_STATUS_UPDATED_NEED_REBOOT'), 'the update after the bus came back');
      // While the cycle still finishes (events, state) the daemon answers as the control socket does.
      const reset = await waitFor(async () => {
        const r = await run('busctl', ['--system', 'call', ...BUSCTL, 'ResetStatus']);
        if (r.code !== 0) expect(r.stderr).toContain('ERR_UPDATE_IN_PROGRESS: An update check or update is running');
        return r.code === 0 ? r : undefined;
      }, 'ResetStatus to be accepted');
      expect(reset.stdout).toBe('');
      expect((await control.status()).status).toBe('UPDATE_STATUS_IDLE');
    } finally {
      control.close();
    }
  });

  it('stays off the bus with DBUS=false', async () => {
    startDaemon({ dbus: 'false' });
    await waitFor(() => existsSync(join(lab.runDir, 'control.sock')), 'the control socket');
    await new Promise((r) => setTimeout(r, 600));
    expect(await onBus()).toBe(false);
    expect((await run('busctl', ['--system', 'list', '--no-legend'])).code).toBe(0);
  });
});
