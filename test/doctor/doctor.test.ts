// update-engine doctor: each planted fault is reported with its fix, and a good set-up passes.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, systemConfigPaths } from '../../src/config/load.ts';
import { UpdateLab, TEST_PUBLIC_KEY } from '../../src/demo/lab.ts';
import { runDoctor } from '../../src/doctor/run-doctor.ts';
import type { DoctorResult } from '../../src/doctor/doctor-result.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { runCli } from '../helpers/cli.ts';
import { createSgdiskImage } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

let dir: string;
let lab: UpdateLab;
let etcd: EtcdCluster;

beforeAll(async () => {
  requireTool('etcd');
  dir = await mkdtemp(join(tmpdir(), 'ue-doctor-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
  etcd = await startEtcd();
});
afterAll(async () => {
  await lab?.close();
  await etcd?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function doctor(lines: Record<string, string>): Promise<DoctorResult[]> {
  const conf = join(dir, `doctor-${Math.random().toString(36).slice(2)}.conf`);
  const base: Record<string, string> = {
    SERVER: lab.server!.updateUrl,
    VERSION: '1.0.0',
    DISK: lab.disk,
    BOOTED_PARTITION: '3',
    PUBLIC_KEYS: TEST_PUBLIC_KEY,
    STATE_DIR: lab.stateDir,
    RUN_DIR: lab.runDir,
    REBOOT_STRATEGY: 'etcd-lock',
    LOCKSMITHD_ENDPOINT: etcd.endpoints.join(','),
    REBOOT_COMMAND: 'true',
    HEALTH_CHECK: 'true',
  };
  await writeFile(
    conf,
    Object.entries({ ...base, ...lines })
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  );
  const loaded = await loadSettings({ paths: systemConfigPaths(dir), configFiles: [conf], env: {} });
  return runDoctor(loaded, { identityPaths: lab.identityPaths(), timeoutMs: 2000 });
}

const byName = (results: DoctorResult[], name: string) => results.find((r) => r.name === name);
const failures = (results: DoctorResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.name);

describe('update-engine doctor', () => {
  it('passes a good set-up, naming the booted and passive slots and the offer', async () => {
    const results = await doctor({});
    expect(failures(results)).toEqual([]);
    expect(byName(results, 'booted slot')?.detail).toMatch(/^USR-A \(priority 1, tries 0, successful 1\)/);
    expect(byName(results, 'passive slot')?.detail).toMatch(/^USR-B \(priority 0, tries 0, successful 0\): updates are written here/);
    expect(byName(results, 'server')?.detail).toMatch(/answers: version 2\.0\.0 offered/);
    expect(byName(results, 'etcd')?.detail).toMatch(/semaphore 1\/1 free/);
    expect(byName(results, 'io throttle')?.detail).toMatch(/^IO_WRITE_BPS=0/);
  });

  it('names the IO throttle mechanism it could set up (and removes it again)', async () => {
    const results = await doctor({ IO_WRITE_BPS: '8M' });
    const r = byName(results, 'io throttle');
    expect(r?.detail).toMatch(/^8 MiB\/s by (cgroup-v2|cgroup-v1|token-bucket)/);
    expect(r?.status === 'ok' || r?.detail.includes('token-bucket')).toBe(true);
  });

  it.each([
    ['a bad key', { PUBLIC_KEYS: join(TEST_PUBLIC_KEY, '..', 'README.md') }, 'keyring', /holds no PEM public key/, /PUBLIC_KEYS/],
    ['a missing disk', { DISK: join(dir ?? '/tmp', 'no-such-disk.img') }, 'slots', /no-such-disk\.img/, /DISK/],
    ['etcd down', { LOCKSMITHD_ENDPOINT: 'http://127.0.0.1:9' }, 'etcd', /127\.0\.0\.1:9/, /LOCKSMITHD_ENDPOINT/],
    ['a server that does not answer', { SERVER: 'http://127.0.0.1:9/v1/update/' }, 'server', /ECONNREFUSED/, /SERVER/],
    ['a health check that is not a program', { HEALTH_CHECK: '/nonexistent/check --now' }, 'health check', /not an executable/, /HEALTH_CHECK/],
  ])('reports %s with its fix', async (_what, settings, name, detail, fix) => {
    const results = await doctor(settings);
    const r = byName(results, name);
    expect(r?.status).toBe('fail');
    expect(r?.detail).toMatch(detail);
    expect(r?.fix).toMatch(fix);
  });

  it('reports slots that are not of the /usr type', async () => {
    requireTool('sgdisk');
    const image = join(dir, 'wrong-type.img');
    createSgdiskImage(image, 32, [
      { partition: 1, sizeMiB: 4, type: 'ef00', label: 'EFI-SYSTEM' },
      { partition: 3, sizeMiB: 8, type: '8300', label: 'USR-A' },
      { partition: 4, sizeMiB: 8, type: '8300', label: 'USR-B' },
    ]);
    const results = await doctor({ DISK: image });
    const r = byName(results, 'slot types');
    expect(r?.status).toBe('fail');
    expect(r?.detail).toMatch(/Partition 3 \("USR-A"\) on .* type is 0fc63daf-8483-4772-8e79-3d69d8477de4/);
    expect(r?.fix).toMatch(/8500/);
  });

  it('warns, without failing, when HEALTH_CHECK is not set and SERVER is disabled', async () => {
    const results = await doctor({ HEALTH_CHECK: '', SERVER: 'disabled' });
    expect(byName(results, 'health check')?.status).toBe('warn');
    expect(byName(results, 'server')?.status).toBe('warn');
  });

  it("reports Nebraska's answers: an unknown app id or group fails naming APP_ID and GROUP; a rollout refusal is fine", async () => {
    const { startDevServer } = await import('../../src/omaha/dev-server.ts');
    const nebraska = await startDevServer({
      payloads: [],
      decide: (app) => ({
        kind: 'error',
        reason: app.track === 'stable' ? 'error-failedToRetrieveUpdatePackageInfo' : 'error-maxConcurrentUpdatesLimitReached',
      }),
    });
    try {
      const unknown = byName(await doctor({ SERVER: nebraska.updateUrl }), 'server');
      expect(unknown?.status).toBe('fail');
      expect(unknown?.detail).toMatch(/error-failedToRetrieveUpdatePackageInfo.*check APP_ID and GROUP/);
      const refused = byName(await doctor({ SERVER: nebraska.updateUrl, GROUP: 'beta' }), 'server');
      expect(refused?.status).toBe('ok');
      expect(refused?.detail).toMatch(/no update now, error-maxConcurrentUpdatesLimitReached/);
    } finally {
      await nebraska.close();
    }
  });

  it('lists the vendor SERVER and APP_ID it ignores (a stock Flatcar host)', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'usr/share/flatcar'), { recursive: true });
    const release = join(dir, 'usr/share/flatcar/release');
    await writeFile(release, 'FLATCAR_RELEASE_APPID={e96281a6-d1af-4bde-9a0a-97b76e56dc57}\n');
    try {
      const r = byName(await doctor({}), 'vendor values');
      expect(r?.detail).toBe(
        `ignored APP_ID="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" (${release}:1): SERVER and APP_ID come only from /etc/flatcar/update.conf, --config or the environment`,
      );
    } finally {
      await rm(release);
    }
  });

  it('says in one line where to set SERVER when it is not set', async () => {
    const r = byName(await doctor({ SERVER: 'disabled' }), 'server');
    expect(r?.fix).toBe('set SERVER=https://HOST/v1/update/ (your Nebraska) in /etc/flatcar/update.conf');
  });

  it('prints one line per check, exits 1 on a problem, with no stack trace', async () => {
    const conf = join(dir, 'cli.conf');
    await writeFile(
      conf,
      `DISK=${join(dir, 'nope.img')}\nBOOTED_PARTITION=3\nSERVER=disabled\nREBOOT_STRATEGY=off\nPUBLIC_KEYS=${TEST_PUBLIC_KEY}\nSTATE_DIR=${lab.stateDir}\nRUN_DIR=${lab.runDir}\n`,
    );
    const r = await runCli('update-engine', ['doctor', '--sysroot', dir, '--config', conf]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +slots +.*nope\.img/m);
    expect(r.stdout).toMatch(/^ +fix: check that DISK \(".*nope\.img"\) is the disk holding USR-A and USR-B/m);
    expect(r.stdout).toMatch(/^1 problem\(s\) would stop an update; \d+ warning\(s\)\.$/m);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
