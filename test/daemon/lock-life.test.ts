// The reboot lock's whole life with the real daemon and a real etcd (REBOOT_STRATEGY=etcd-lock):
// taken before the reboot, held across it, released only once the new slot is marked good (or the
// machine came back on the old one); and Flatcar#408: a lock left held at start is given back.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { requireTool } from '../helpers/tools.ts';

let etcd: EtcdCluster;
let dir: string;
let lab: UpdateLab;
let group: string;
let machineId: string;

beforeAll(async () => {
  requireTool('etcd');
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});
beforeEach(async (ctx) => {
  dir = await mkdtemp(join(tmpdir(), 'ue-lock-life-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 4 * 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
  group = ctx.task.id.replace(/[^a-z0-9]/gi, '').slice(-12);
  machineId = (await readFile(join(dir, 'machine-id'), 'utf8')).trim();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

const lockSettings = () => ({ rebootStrategy: 'etcd-lock', etcdEndpoints: etcd.endpoints.join(','), lockGroup: group });

async function once(rebooter = new RecordingRebooter()): Promise<RecordingRebooter> {
  const code = await runDaemon(lab.settings(lockSettings()), {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter },
  });
  expect(code).toBe(0);
  return rebooter;
}

async function holders(): Promise<string[]> {
  const r = await runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, 'status']);
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n');
  const start = lines.indexOf('MACHINE ID');
  if (start < 0) return [];
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe('the reboot lock through an update', () => {
  it('is taken before the reboot, held across it, and released once the new slot is marked good', async () => {
    const first = await once();
    expect(first.reasons).toEqual(['update-engine: rebooting into version 2.0.0']);
    expect(await holders()).toEqual([machineId]);
    expect((await lab.reboot()).partition).toBe(4);
    const second = await once();
    expect(second.reasons).toEqual([]);
    expect((await lab.slots()).find((s) => s.partition === 4)?.successful).toBe(true);
    expect(await holders()).toEqual([]);
  });

  it('is released when the machine came back on the old slot', async () => {
    await once();
    expect(await holders()).toEqual([machineId]);
    await lab.reboot(); // B tried, never marked good
    await lab.reboot(); // back on A
    await once();
    expect(await holders()).toEqual([]);
  });

  it('Flatcar#408: a lock this machine holds while no reboot is due is released at start', async () => {
    const lock = await runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, 'lock', machineId]);
    expect(lock.code).toBe(0);
    expect(await holders()).toEqual([machineId]);
    await lab.close(); // no server: nothing to update, the daemon only starts and checks
    await once();
    expect(await holders()).toEqual([]);
  });

  it('a daemon restart while the reboot is pending keeps the lock', async () => {
    await runDaemon(lab.settings({ ...lockSettings(), rebootStrategy: 'off' }), {
      once: true,
      logger: silentLogger(),
      signal: new AbortController().signal,
      identityPaths: lab.identityPaths(),
      overrides: { rebooter: new RecordingRebooter() },
    });
    const lock = await runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, 'lock', machineId]);
    expect(lock.code).toBe(0);
    const again = await once(); // marker present: reboot-pending; the lock we hold is ours to reboot with
    expect(again.reasons).toEqual(['update-engine: rebooting into version 2.0.0']);
    expect(await holders()).toEqual([machineId]);
  });

  it('marks the new slot good even when etcd is down, and releases the lock once etcd is back', async () => {
    await once();
    expect(await holders()).toEqual([machineId]);
    await lab.reboot();
    await etcd.members[0]!.stop();
    try {
      await once(); // post-boot: mark good; the release fails and is remembered
      expect((await lab.slots()).find((s) => s.partition === 4)?.successful).toBe(true);
      const state = JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as { releaseLockPending?: boolean };
      expect(state.releaseLockPending).toBe(true);
    } finally {
      await etcd.members[0]!.restart();
    }
    expect(await holders()).toEqual([machineId]);
    await once(); // the next cycle lets go of it
    expect(await holders()).toEqual([]);
  }, 90_000);
});
