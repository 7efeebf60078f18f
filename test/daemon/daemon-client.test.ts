// The running daemon with its control socket, driven by the real update_engine_client:
// -status (update_engine's exact format), -update (check, follow, installed), -reset_status (unflip).

import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { runCli } from '../helpers/cli.ts';
import { httpRequest } from './metrics-scrape.ts';

let dir: string;
let lab: UpdateLab;
let stop: AbortController;
let daemon: Promise<number>;

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-daemon-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 4 * 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
  stop = new AbortController();
  daemon = runDaemon(lab.settings({ metricsListen: join(lab.runDir, 'metrics.sock') }), {
    once: false,
    logger: silentLogger(),
    signal: stop.signal,
    identityPaths: lab.identityPaths(),
  });
  await waitFor(() => existsSync(join(lab.runDir, 'control.sock')), 'the control socket');
});
afterEach(async () => {
  stop.abort();
  await daemon;
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

describe('daemon + update_engine_client', () => {
  it('-status, -update, -status, -reset_status', async () => {
    const socket = join(lab.runDir, 'control.sock');
    expect((await stat(socket)).mode & 0o777).toBe(0o660);
    const idle = await runCli('update_engine_client', ['--socket', socket, '-status']);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toBe('LAST_CHECKED_TIME=0\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_IDLE\nNEW_VERSION=0.0.0\nNEW_SIZE=0\n');

    const update = await runCli('update_engine_client', ['--socket', socket, '-update']);
    expect(update.stderr).toBe('');
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(/UPDATE_STATUS_DOWNLOADING/);
    expect(update.stdout).toMatch(/UPDATE_STATUS_UPDATED_NEED_REBOOT/);

    const payloadSize = (await stat(lab.payloads[0]!.path)).size;
    const after = await runCli('update_engine_client', ['--socket', socket, '--status']);
    expect(after.stdout).toMatch(
      new RegExp(
        `^LAST_CHECKED_TIME=\\d{10}\\nPROGRESS=0\\.000000\\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\\nNEW_VERSION=2\\.0\\.0\\nNEW_SIZE=${payloadSize}\\n$`,
      ),
    );
    expect((await lab.slots()).map((s) => [s.label, s.priority, s.tries])).toEqual([
      ['USR-A', 1, 0],
      ['USR-B', 2, 1],
    ]);
    const scrape = await httpRequest(join(lab.runDir, 'metrics.sock'));
    expect(scrape.status).toBe(200);
    expect(scrape.body).toMatch(/^update_engine_status\{status="UPDATE_STATUS_UPDATED_NEED_REBOOT"\} 1$/m);
    expect(scrape.body).toMatch(/^update_engine_status\{status="UPDATE_STATUS_IDLE"\} 0$/m);
    expect(scrape.body).toMatch(new RegExp(`^update_engine_bytes_written_total ${4 * 1024 * 1024}$`, 'm'));

    const reset = await runCli('update_engine_client', ['--socket', socket, '-reset_status']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('Pending update to 2.0.0 undone; slot USR-A stays active');
    expect((await lab.slots()).map((s) => [s.label, s.priority, s.tries, s.successful])).toEqual([
      ['USR-A', 1, 0, true],
      ['USR-B', 0, 0, false],
    ]);
    const final = await runCli('update_engine_client', ['--socket', socket, '-status']);
    expect(final.stdout).toMatch(/CURRENT_OP=UPDATE_STATUS_IDLE\nNEW_VERSION=0\.0\.0\n/);
    expect((await lab.reboot()).partition).toBe(3);
  });
});
