// Freshness (issue 14, point 8): a payload's signed manifest carries its build time, and a payload
// built before the running version is refused unless ALLOW_DOWNGRADE (a replayed old build under a
// higher version number cannot roll a machine back). Payloads without a build time still apply. An
// http:// SERVER draws a warning from config and doctor, and REQUIRE_HTTPS=true refuses it.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { settingsSchema } from '../../src/config/schema.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import type { PersistedState } from '../../src/daemon/state-store.ts';
import { labDaemonOnce } from '../helpers/lab-daemon.ts';

const BUILT_V2 = 1_900_000_000;
let dir: string;
let lab: UpdateLab;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-fresh-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

const daemonOnce = (extra: Record<string, string> = {}) => labDaemonOnce(lab, extra);

/** null: a payload in the older format, without a build time. */
async function offer(version: string, buildTimeSeconds: number | null) {
  lab.payloads.length = 0;
  const p = await lab.addPayload(version, { buildTimeSeconds });
  await lab.serve();
  return p;
}

/** Runs 2.0.0 (built BUILT_V2) and marks it good: the state learns the running build time. */
async function runningV2() {
  await offer('2.0.0', BUILT_V2);
  expect(await daemonOnce()).toBe('0');
  expect((await lab.reboot()).partition).toBe(4);
  expect(await daemonOnce()).toBe('0');
  const state = JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as PersistedState;
  expect(state.runningBuildTimeSeconds).toBe(BUILT_V2);
}

describe('build time in the signed manifest (point 8)', () => {
  it('3.0.0 built a day before the running 2.0.0 is refused before the slot is touched; ALLOW_DOWNGRADE accepts it', async () => {
    await runningV2();
    await offer('3.0.0', BUILT_V2 - 86_400);
    const before = (await lab.slots()).find((s) => s.partition === 3);
    expect(await daemonOnce()).toBe(
      'ERR_PAYLOAD_DOWNGRADE: Payload version "3.0.0" was built 2030-03-16T17:46:40.000Z, before the running version (built 2030-03-17T17:46:40.000Z) (set ALLOW_DOWNGRADE=true to accept it)',
    );
    expect((await lab.slots()).find((s) => s.partition === 3)).toEqual(before);
    expect(await daemonOnce({ allowDowngrade: 'true' })).toBe('0');
    expect((await lab.slots()).find((s) => s.partition === 3)).toMatchObject({ tries: 1 });
  });

  it('a newer build applies', async () => {
    await runningV2();
    await offer('3.0.0', BUILT_V2 + 60);
    expect(await daemonOnce()).toBe('0');
  });

  it('a payload without a build time (the older format) still applies', async () => {
    await runningV2();
    const p = await offer('3.0.0', null);
    expect((await readFile(p.path)).includes('buildTimeSeconds')).toBe(false);
    expect(await daemonOnce()).toBe('0');
    expect((await lab.slots()).find((s) => s.partition === 3)).toMatchObject({ tries: 1 });
  });
});

describe('http SERVER (point 8)', () => {
  let cdir: string;
  beforeAll(async () => {
    cdir = await mkdtemp(join(tmpdir(), 'ue-https-'));
  });
  afterAll(() => rm(cdir, { recursive: true, force: true }));

  it('REQUIRE_HTTPS=true refuses an http:// SERVER, not an https:// one', () => {
    expect(() => settingsSchema.parse({ server: 'http://update.example.net/v1/update/', requireHttps: 'true' })).toThrow(
      /REQUIRE_HTTPS=true refuses an http:\/\/ SERVER/,
    );
    expect(settingsSchema.parse({ server: 'https://update.example.net/v1/update/', requireHttps: 'true' }).requireHttps).toBe(true);
  });

  it('update-engine config warns about an http:// SERVER, and fails with REQUIRE_HTTPS=true naming the key', async () => {
    const conf = join(cdir, 'update.conf');
    await writeFile(conf, 'SERVER=http://update.example.net/v1/update/\n');
    const r = await runCli('update-engine', ['config', '--sysroot', cdir, '--config', conf], { env: cleanEnv() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: SERVER is plain http');
    await writeFile(conf, 'SERVER=http://update.example.net/v1/update/\nREQUIRE_HTTPS=true\n');
    const refused = await runCli('update-engine', ['config', '--sysroot', cdir, '--config', conf], { env: cleanEnv() });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/SERVER.*REQUIRE_HTTPS=true refuses an http:\/\/ SERVER/);
    expect(refused.stderr).not.toMatch(/at .*\.ts/);
  });
});
