import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
let withV2: EtcdCluster;
let dir: string;
beforeAll(async () => {
  [etcd, withV2] = await Promise.all([startEtcd(), startEtcd({ enableV2: true })]);
  dir = mkdtempSync(join(tmpdir(), 'ue-locksmithctl-'));
});
afterAll(async () => {
  await Promise.all([etcd?.stop(), withV2?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** locksmithctl against the test etcd, with one group per test. */
const ctl = (group: string, ...args: string[]) => runCli('locksmithctl', ['--endpoint', etcd.endpoints.join(','), '--group', group, ...args]);

describe('locksmithctl', () => {
  it("prints locksmith's status for a fresh semaphore", async () => {
    const r = await ctl('fresh', 'status');
    expect(r).toEqual({ code: 0, stdout: 'Available: 1\nMax: 1\n', stderr: '' });
  });

  it("locks, unlocks and sets the max with locksmith's output and errors", async () => {
    expect(await ctl('ops', 'lock', 'machine-b')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl('ops', 'lock', 'machine-a')).toEqual({ code: 1, stdout: '', stderr: 'Error locking: semaphore is at 0\n' });
    expect(await ctl('ops', 'set-max', '4')).toEqual({ code: 0, stdout: 'Old-Max: 1\nMax: 4\n', stderr: '' });
    expect((await ctl('ops', 'lock', 'machine-a')).code).toBe(0);
    expect(await ctl('ops', 'lock', 'machine-a')).toEqual({ code: 1, stdout: '', stderr: 'Error locking: holder exists\n' });
    const status = await ctl('ops', 'status');
    expect(status.code).toBe(0);
    const lines = status.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual(['Available: 2', 'Max: 4', '', 'MACHINE ID', 'machine-a', 'machine-b']);
    // The extension: after a blank line, each holder's age and how it is kept alive.
    expect(lines[6]).toBe('');
    expect(lines[7]).toMatch(/^HOLDER\s+HELD FOR\s+LIVENESS$/);
    expect(lines[8]).toMatch(/^machine-a\s+\d+s\s+manual \(locksmithctl lock\)$/);
    expect(lines[9]).toMatch(/^machine-b\s+\d+s\s+manual/);
    expect(await ctl('ops', 'unlock', 'machine-b')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl('ops', 'unlock', 'machine-b')).toEqual({ code: 1, stdout: '', stderr: 'Error unlocking: holder does not exist\n' });
    expect((await ctl('ops', 'set-max', '1')).stdout).toBe('Old-Max: 4\nMax: 1\n');
    expect((await ctl('ops', 'status')).stdout.split('\n').slice(0, 5)).toEqual(['Available: 0', 'Max: 1', '', 'MACHINE ID', 'machine-a']);
  });

  it("answers set-max's mistakes as locksmith does", async () => {
    expect(await ctl('max', 'set-max')).toEqual({ code: 1, stdout: '', stderr: 'New maximum value must be set.\n' });
    expect(await ctl('max', 'set-max', 'two')).toEqual({ code: 1, stdout: '', stderr: 'Invalid maximum value: two\n' });
  });

  it('reads its flags from LOCKSMITHCTL_* variables, and Go-style single-dash flags', async () => {
    const env = cleanEnv({ LOCKSMITHCTL_ENDPOINT: etcd.endpoints.join(','), LOCKSMITHCTL_GROUP: 'from-env' });
    expect((await runCli('locksmithctl', ['lock', 'env-holder'], { env })).code).toBe(0);
    const r = await runCli('locksmithctl', [`-endpoint=${etcd.endpoints[0]}`, '-group', 'from-env', 'status']);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual(['Available: 0', 'Max: 1', '', 'MACHINE ID', 'env-holder']);
  });

  it("falls back to the settings' LOCKSMITHD_* keys (environment and --config)", async () => {
    const env = cleanEnv({ LOCKSMITHD_ENDPOINT: etcd.endpoints.join(','), LOCKSMITHD_GROUP: 'from-settings' });
    expect((await runCli('locksmithctl', ['lock', 'x1'], { env })).code).toBe(0);
    const conf = join(dir, 'update.conf');
    writeFileSync(conf, `LOCKSMITHD_ENDPOINT=${etcd.endpoints[0]}\nLOCKSMITHD_GROUP=from-settings\n`);
    const r = await runCli('locksmithctl', ['--config', conf, 'status']);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual(['Available: 0', 'Max: 1', '', 'MACHINE ID', 'x1']);
    // A flag wins over the settings.
    expect((await runCli('locksmithctl', ['--group', 'other', 'status'], { env })).stdout).toBe('Available: 1\nMax: 1\n');
  });

  it('warns on stderr when a v2 semaphore exists (etcd with --enable-v2), keeping stdout exact', async () => {
    const endpoint = withV2.endpoints[0] as string;
    const args = ['--endpoint', endpoint, 'status'];
    expect(await runCli('locksmithctl', args)).toEqual({ code: 0, stdout: 'Available: 1\nMax: 1\n', stderr: '' });
    const put = await fetch(`${endpoint}/v2/keys/coreos.com/updateengine/rebootlock/semaphore`, {
      method: 'PUT',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ value: '{"semaphore":0,"max":1,"holders":["legacy-node"]}' }),
    });
    expect(put.status).toBe(201);
    const r = await runCli('locksmithctl', args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Available: 1\nMax: 1\n');
    expect(r.stderr).toMatch(
      /^Warning: an etcd v2 reboot semaphore exists \(.*held by legacy-node\)\. locksmith \(v2 API\) and update-engine \(v3 API\) keep separate semaphores/,
    );
  });

  it('says what failed in one line when etcd cannot be reached', async () => {
    const r = await runCli('locksmithctl', ['--endpoint', 'http://127.0.0.1:1', 'lock', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^Error locking: Cannot read the keys under "coreos.com\/updateengine\/rebootlock\/semaphore" on etcd at "http:\/\/127.0.0.1:1": .*ECONNREFUSED.*\n$/,
    );
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('has help, and usage errors exit 2', async () => {
    const help = await runCli('locksmithctl', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('set-max N');
    expect((await runCli('locksmithctl', [])).code).toBe(2);
    const bad = await runCli('locksmithctl', ['reboot-now']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('locksmithctl: Unknown command "reboot-now"\nTry \'locksmithctl --help\'.\n');
    expect((await runCli('locksmithctl', ['--bogus', 'status'])).code).toBe(2);
    expect((await runCli('locksmithctl', ['--endpoint', 'not-a-url', 'status'])).stderr).toContain('Invalid etcd endpoint "not-a-url"');
  });
});
