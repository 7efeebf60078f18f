// The daemon's side of the fleet circuit breaker with a real etcd and one lab machine: a rollback
// while etcd is down is kept in the state and written (with the lock's release) once etcd is back;
// the check that offers the halted version then declines it with a 3/0 event (code 36, which ends Nebraska's grant) and downloads nothing.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import type { PersistedState } from '../../src/daemon/state-store.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { requireTool } from '../helpers/tools.ts';

let etcd: EtcdCluster;
let dir: string;
let lab: UpdateLab;
let machineId: string;
let group: string;

beforeAll(async () => {
  requireTool('etcd');
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});
beforeEach(async (ctx) => {
  group = `halt-${ctx.task.id.replace(/[^a-z0-9]/gi, '').slice(-12)}`;
  dir = await mkdtemp(join(tmpdir(), 'ue-fleet-halt-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
  machineId = (await readFile(join(dir, 'machine-id'), 'utf8')).trim();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

async function once(healthy: boolean): Promise<RecordingRebooter> {
  const rebooter = new RecordingRebooter();
  await runDaemon(lab.settings({ rebootStrategy: 'etcd-lock', etcdEndpoints: etcd.endpoints.join(','), lockGroup: group }), {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter, healthGate: async () => healthy },
  }).catch(() => 1);
  return rebooter;
}
const state = async () => JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as PersistedState;
const status = async () => (await runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, 'status'])).stdout;

describe('the daemon and the fleet circuit breaker', () => {
  it('keeps a rollback that etcd cannot take, writes it with the release once etcd is back', async () => {
    expect((await once(true)).reasons).toHaveLength(1); // 2.0.0 installed, lock taken, reboot
    await lab.reboot();
    expect((await once(false)).reasons).toHaveLength(1); // health check fails: reboot to fall back
    expect((await state()).fleetFailurePending).toMatchObject({ version: '2.0.0', code: 'ERR_HEALTH_CHECK' });
    await lab.reboot();
    expect(lab.booted).toBe(3);
    await etcd.members[0]!.stop();
    try {
      await once(true); // rolled back; the failure cannot be written
      expect((await state()).fleetFailurePending).toMatchObject({ version: '2.0.0', code: 'ERR_HEALTH_CHECK' });
    } finally {
      await etcd.members[0]!.restart();
    }
    expect(await status()).toContain(`MACHINE ID\n${machineId}\n`);
    expect(await status()).not.toContain('FLEET CIRCUIT BREAKER');
    await once(true); // the next cycle writes it, with the release
    expect((await state()).fleetFailurePending).toBeUndefined();
    const after = await status();
    expect(after).not.toContain('MACHINE ID');
    expect(after).toContain(`failed on ${machineId}: ERR_HEALTH_CHECK`);
  }, 120_000);

  it('declines an offer of a halted version (3/0 code 36) without downloading it, and takes it after resume', async () => {
    const ctl = (...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);
    expect((await ctl('halt', '2.0.0')).code).toBe(0);
    try {
      expect((await once(true)).reasons).toEqual([]);
      expect(lab.events.filter((e) => e.eventtype === 3 && e.eventresult === 0).map((e) => e.errorcode)).toEqual([36]);
      expect(lab.events.some((e) => e.eventtype === 13)).toBe(false);
      expect((await state()).pendingUpdate).toBeUndefined();
    } finally {
      expect((await ctl('resume', '2.0.0')).code).toBe(0);
    }
    expect((await once(true)).reasons).toEqual(['update-engine: rebooting into version 2.0.0']);
  }, 60_000);

  it('the running daemon retries the failure record until etcd takes it', async () => {
    await once(true);
    await lab.reboot();
    await once(false);
    await lab.reboot();
    await etcd.members[0]!.stop();
    const stop = new AbortController();
    let running: Promise<number> | undefined;
    try {
      running = runDaemon(lab.settings({ rebootStrategy: 'etcd-lock', etcdEndpoints: etcd.endpoints.join(','), lockGroup: group, server: 'disabled' }), {
        once: false,
        logger: silentLogger(),
        signal: stop.signal,
        identityPaths: lab.identityPaths(),
        overrides: { rebooter: new RecordingRebooter() },
      });
      const deadline = Date.now() + 30_000;
      while ((await state().catch(() => undefined))?.pendingUpdate !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect((await state()).fleetFailurePending).toMatchObject({ version: '2.0.0' });
    } finally {
      await etcd.members[0]!.restart();
    }
    const deadline = Date.now() + 30_000;
    while ((await state()).fleetFailurePending !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect((await state()).fleetFailurePending).toBeUndefined();
    expect(await status()).toContain(`failed on ${machineId}: ERR_HEALTH_CHECK`);
    expect(await status()).not.toContain('MACHINE ID');
    stop.abort();
    expect(await running).toBe(0);
  }, 90_000);
});
