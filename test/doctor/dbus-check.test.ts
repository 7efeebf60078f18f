// The doctor's D-Bus check against a private system bus and policy directories in a temp dir: the
// policy file found or not, the bus there or not, the name owned or not, DBUS=false.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/schema.ts';
import { DbusService } from '../../src/daemon/dbus-service.ts';
import { StatusMachine } from '../../src/daemon/status.ts';
import { checkDbus } from '../../src/doctor/dbus-check.ts';
import { POLICY_FILE, PrivateSystemBus } from '../helpers/dbus-daemon.ts';

let dir: string;
let bus: PrivateSystemBus | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-doctor-dbus-'));
});
afterEach(async () => {
  await bus?.stop();
  bus = undefined;
  await rm(dir, { recursive: true, force: true });
});

const settings = (dbus: string) => settingsSchema.parse({ dbus });

describe('doctor: d-bus', () => {
  it('finds the policy and the bus, and says who owns com.coreos.update1', async () => {
    bus = await PrivateSystemBus.start(dir);
    const paths = { policyDirs: [join(dir, 'none'), dirname(POLICY_FILE)], busAddress: bus.address };
    const before = await checkDbus(settings('true'), paths);
    expect(before.map((r) => [r.name, r.status])).toEqual([
      ['d-bus policy', 'ok'],
      ['d-bus', 'ok'],
    ]);
    expect(before[0]?.detail).toBe(`"${POLICY_FILE}"`);
    expect(before[1]?.detail).toContain('com.coreos.update1 not owned now');
    const machine = new StatusMachine();
    const handler = {
      status: () => machine.snapshot(),
      check: () => ({ started: true, message: '' }),
      reset: () => ({ message: '', snapshot: machine.snapshot() }),
      watch: () => () => {},
    };
    const service = DbusService.start({ handler, groupName: 'root', busAddress: bus.address, retryMs: 200 });
    try {
      await service.whenConnected();
      expect((await checkDbus(settings('true'), paths))[1]?.detail).toMatch(/com\.coreos\.update1 owned by :1\.\d+$/);
    } finally {
      await service.close();
    }
  });

  it('warns, with the fix, without the policy file or the bus; DBUS=false is fine', async () => {
    const results = await checkDbus(settings('true'), { policyDirs: [dir], busAddress: `unix:path=${join(dir, 'no-bus')}` }, 1000);
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['d-bus policy', 'warn'],
      ['d-bus', 'warn'],
    ]);
    expect(results[0]?.fix).toBe('install -m 0644 systemd/dbus/com.coreos.update1.conf /usr/share/dbus-1/system.d/ && systemctl reload dbus');
    expect(results[1]?.detail).toContain('ENOENT');
    expect(await checkDbus(settings('false'))).toEqual([{ name: 'd-bus', status: 'ok', detail: expect.stringContaining('off (DBUS=false)') }]);
  });
});
