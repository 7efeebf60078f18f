// The fleet circuit breaker end to end: 5 machines (real daemons, own disk images and boot
// simulators) share a real etcd's reboot lock (max 1). Version 2.0.0 fails every health check:
// exactly one machine boots it; the other four end on 1.0.0 with nothing pending; after
// `locksmithctl resume 2.0.0` and a fixed 2.0.1, all five update.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { FleetScenario } from '../helpers/fleet-scenario.ts';
import { requireTool } from '../helpers/tools.ts';

let etcd: EtcdCluster;
let dir: string;
let fleet: FleetScenario;
const group = 'breaker';
const BAD = '2.0.0';
const FIXED = '2.0.1';

const ctl = (...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);

beforeAll(async () => {
  requireTool('etcd');
  etcd = await startEtcd();
  dir = await mkdtemp(join(tmpdir(), 'ue-fleet-breaker-'));
  fleet = new FleetScenario({ dir, machines: 5, initialVersion: '1.0.0', etcdEndpoints: etcd.endpoints, group, healthy: (_m, version) => version !== BAD });
  await fleet.setUp();
});
afterAll(async () => {
  await fleet?.close();
  await etcd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the fleet circuit breaker', () => {
  it('stops a bad release after the first machine fails with it, and lets a fixed one through after resume', async () => {
    // The gate is closed (max 0) until all five have 2.0.0 installed and wait for the lock; then max 1.
    expect((await ctl('set-max', '0')).code).toBe(0);
    await fleet.publish(BAD);
    const settled = fleet.settleAll();
    await fleet.until(() => fleet.events.filter((e) => e.kind === 'need-reboot' && e.version === BAD).length === 5);
    expect((await ctl('set-max', '1')).code).toBe(0);
    await settled;

    expect(fleet.bootedEver(BAD)).toHaveLength(1);
    const [victim] = fleet.bootedEver(BAD) as [number];
    for (let i = 0; i < 5; i++) {
      expect(fleet.bootedVersion(i)).toBe('1.0.0');
      expect((await fleet.state(i)).pendingUpdate).toBeUndefined();
      // The booted slot stays first in the boot order: the next boot is the old version again.
      const slots = await fleet.labs[i]!.slots();
      const booted = slots.find((s) => s.partition === 3)!;
      const other = slots.find((s) => s.partition === 4)!;
      expect(booted.priority).toBeGreaterThan(other.priority);
      // Each of the other four had 2.0.0 installed and waiting for the lock: the breaker undid it.
      if (i !== victim) expect(fleet.events.filter((e) => e.machine === i && e.kind === 'halted').map((e) => e.version)).toEqual([BAD]);
    }
    expect((await fleet.state(victim)).fleetFailurePending).toBeUndefined();
    // Each undo was reported to the server: 3/0, error code 36 (deferred per policy; 3/0 ends Nebraska's grant).
    const ids = await Promise.all(fleet.labs.map(async (l) => (await readFile(join(l.options.dir, 'machine-id'), 'utf8')).trim()));
    const reported = fleet.server.events.filter((e) => e.eventtype === 3 && e.eventresult === 0 && e.errorcode === 36).map((e) => e.machineid);
    expect(new Set(reported)).toEqual(new Set(ids.filter((_, i) => i !== victim)));

    const status = await ctl('status');
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n').slice(0, 2)).toEqual(['Available: 1', 'Max: 1']);
    expect(status.stdout).toContain('FLEET CIRCUIT BREAKER (FLEET_FAILURE_THRESHOLD=1)');
    expect(status.stdout).toMatch(/^2\.0\.0 +1 +halted$/m);
    expect(status.stdout).toContain('ERR_HEALTH_CHECK');

    // A second pass while halted: offers of 2.0.0 are not taken (3/0 code 36), nothing is downloaded.
    const events = fleet.server.events.length;
    await fleet.settleAll();
    expect(fleet.bootedEver(BAD)).toHaveLength(1);
    const deferrals = fleet.server.events.slice(events).filter((e) => e.eventtype === 3 && e.eventresult === 0 && e.errorcode === 36);
    expect(deferrals.length).toBeGreaterThanOrEqual(4);
    expect(fleet.server.events.slice(events).some((e) => e.eventtype === 13)).toBe(false);

    const resumed = await ctl('resume', BAD);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('removed 1 failure record(s)');
    expect((await ctl('status')).stdout).not.toContain('FLEET CIRCUIT BREAKER');

    await fleet.publish(FIXED);
    await fleet.settleAll();
    for (let i = 0; i < 5; i++) {
      expect(fleet.bootedVersion(i)).toBe(FIXED);
      expect((await fleet.labs[i]!.slots()).find((s) => s.partition === fleet.labs[i]!.booted)?.successful).toBe(true);
    }
    expect(fleet.bootedEver(FIXED)).toHaveLength(5);
    expect(fleet.bootedEver(BAD)).toHaveLength(1);
  }, 240_000);
});
