// locksmithctl reboot (lock, then REBOOT_COMMAND, as locksmith's runReboot) against a real etcd, and
// locksmithctl send-need-reboot to a real daemon over its control socket: the reboot strategy runs.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDaemon } from '../../src/daemon/main.ts';
import type { UpdateEngine } from '../../src/daemon/engine.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';

let etcd: EtcdCluster;
let dir: string;
beforeAll(async () => {
  etcd = await startEtcd();
  dir = mkdtempSync(join(tmpdir(), 'ue-locksmithctl-reboot-'));
});
afterAll(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('locksmithctl reboot', () => {
  it("takes this machine's slot, then runs REBOOT_COMMAND; with the slot taken it fails as locksmith does", async () => {
    const marker = join(dir, 'rebooted');
    const conf = join(dir, 'reboot.conf');
    writeFileSync(conf, `REBOOT_COMMAND=touch ${marker}\n`);
    const args = ['--endpoint', etcd.endpoints.join(','), '--group', 'reboot-test', '--config', conf];
    const hostId = existsSync('/etc/machine-id') ? readFileSync('/etc/machine-id', 'utf8').trim() : '';
    if (hostId === '') {
      // A host without /etc/machine-id (a bare container): locksmith's answer, and no reboot.
      expect(await runCli('locksmithctl', [...args, 'reboot'])).toEqual({ code: 1, stdout: '', stderr: 'Cannot read machine-id\n' });
      expect(existsSync(marker)).toBe(false);
      return;
    }
    expect(await runCli('locksmithctl', [...args, 'reboot'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(existsSync(marker)).toBe(true);
    expect((await runCli('locksmithctl', [...args, 'status'])).stdout.split('\n').slice(0, 5)).toEqual(['Available: 0', 'Max: 1', '', 'MACHINE ID', hostId]);
    rmSync(marker);
    expect(await runCli('locksmithctl', [...args, 'reboot'])).toEqual({ code: 1, stdout: '', stderr: 'Error locking: semaphore is at 0\n' });
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses arguments', async () => {
    expect((await runCli('locksmithctl', ['reboot', 'x'])).code).toBe(2);
  });
});

describe('locksmithctl send-need-reboot', () => {
  it('tells the running daemon over its control socket; its reboot strategy reboots', async () => {
    const lab = new UpdateLab({ dir: join(dir, 'lab'), initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
    await lab.setUp();
    const stop = new AbortController();
    const rebooter = new RecordingRebooter();
    let engine: UpdateEngine | undefined;
    const settings = lab.settings({ rebootStrategy: 'reboot' });
    const daemon = runDaemon(settings, {
      once: false,
      logger: silentLogger(),
      signal: stop.signal,
      identityPaths: lab.identityPaths(),
      onEngine: (e) => (engine = e),
      overrides: { rebooter },
    });
    try {
      for (let i = 0; i < 100 && !existsSync(settings.controlSocket); i++) await new Promise((r) => setTimeout(r, 20));
      const env = cleanEnv({ UPDATE_ENGINE_CONTROL_SOCKET: settings.controlSocket });
      const r = await runCli('locksmithctl', ['send-need-reboot'], { env });
      expect(r).toEqual({ code: 0, stdout: 'Reboot needed: REBOOT_STRATEGY=reboot takes it from here\n', stderr: '' });
      for (let i = 0; i < 100 && rebooter.reasons.length === 0; i++) await new Promise((r2) => setTimeout(r2, 20));
      expect(rebooter.reasons).toHaveLength(1);
      expect(engine?.machine.status).toBe('UPDATE_STATUS_UPDATED_NEED_REBOOT');
      const again = await runCli('locksmithctl', ['send-need-reboot'], { env });
      expect(again.stdout).toBe('A reboot is already needed; the reboot strategy is handling it\n');
      const none = await runCli('locksmithctl', ['send-need-reboot'], { env: cleanEnv({ UPDATE_ENGINE_CONTROL_SOCKET: join(dir, 'nothing.sock') }) });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^error sending need-reboot: .*nothing\.sock/);
    } finally {
      stop.abort();
      await daemon;
      await lab.close();
    }
  });
});
