// `locksmithctl send-need-reboot` on a private system bus: dbus-monitor, listening with locksmithd's
// match rule, sees update_engine's StatusUpdate with locksmith's values when no daemon answers on the
// control socket; with neither it fails clearly. (With a daemon: test/cli/locksmithctl-reboot.test.ts.)

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { PrivateSystemBus } from '../helpers/dbus-daemon.ts';
import { requireTool } from '../helpers/tools.ts';

let dir: string;
let bus: PrivateSystemBus | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-send-need-reboot-'));
});
afterEach(async () => {
  await bus?.stop();
  bus = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('locksmithctl send-need-reboot', () => {
  it("emits StatusUpdate(0, 0.0, 'UPDATE_STATUS_UPDATED_NEED_REBOOT', '', 0) as locksmith's does", async () => {
    requireTool('dbus-monitor');
    bus = await PrivateSystemBus.start(dir);
    const rule = "type='signal',interface='com.coreos.update1.Manager',member='StatusUpdate'";
    const monitor = spawn('dbus-monitor', ['--system', rule], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address } });
    let out = '';
    monitor.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 200 && !out.includes('NameLost'); i++) await new Promise((r) => setTimeout(r, 25));
      const r = await runCli('locksmithctl', ['send-need-reboot'], {
        env: cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: bus.address, UPDATE_ENGINE_CONTROL_SOCKET: join(dir, 'no-daemon.sock') }),
      });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      for (let i = 0; i < 200 && !out.includes('UPDATE_STATUS_UPDATED_NEED_REBOOT'); i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      monitor.kill('SIGTERM');
    }
    const signal = out.slice(out.lastIndexOf('signal '));
    expect(signal).toMatch(/path=\/com\/coreos\/update1; interface=com\.coreos\.update1\.Manager; member=StatusUpdate/);
    expect(
      signal
        .split('\n')
        .slice(1, 6)
        .map((l) => l.trim()),
    ).toEqual(['int64 0', 'double 0', 'string "UPDATE_STATUS_UPDATED_NEED_REBOOT"', 'string ""', 'int64 0']);
  });

  it('fails with one clear line naming both channels when there is neither a daemon nor a bus', async () => {
    const env = cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'none')}`, UPDATE_ENGINE_CONTROL_SOCKET: join(dir, 'no-daemon.sock') });
    const r = await runCli('locksmithctl', ['send-need-reboot'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error sending need-reboot: Cannot connect to the update daemon at ".*no-daemon\.sock": .*; error connecting to system dbus: connect ENOENT .*none\n$/,
    );
  });
});
