// Tests of update_engine_client as a real process against a real control server (in this process)
// with a fake handler: exact -status output, every command, -update outcomes, watch, the progress
// bar on a pseudo-TTY (util-linux `script`), and the errors for a missing daemon or a denied user.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlServer } from '../../src/daemon/control-server.ts';
import { FakeControlHandler, type CycleScript } from '../daemon/fake-control-handler.ts';
import { REPO_ROOT, cleanEnv, runCli } from '../helpers/cli.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

let dir: string;
let server: ControlServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-client-'));
  chmodSync(dir, 0o755);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function daemon(handler = new FakeControlHandler(), script: CycleScript = 'update') {
  handler.script = script;
  const socketPath = join(dir, 'control.sock');
  server = await ControlServer.listen({ socketPath, groupName: String(process.getgid?.() ?? 0), handler });
  return { handler, socketPath };
}

const client = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli('update_engine_client', args, { env: cleanEnv(env) });

/** Starts the client and lets the test wait for output (for commands that run until stopped). */
function spawnClient(args: string[]) {
  const child = spawn(process.execPath, [`${REPO_ROOT}bin/update_engine_client.js`, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor: (text: string) => (out.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve }))),
  };
}

describe('update_engine_client: arguments', () => {
  it('prints its help', async () => {
    const r = await client(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: update_engine_client \[--socket PATH\] -status \| -check_for_update/);
  });

  it.each([
    [[], 'Give one of -status, -check_for_update, -reset_status, -update, -watch_for_updates'],
    [['-status', '--update'], 'Give only one command, not -status and -update'],
    [['-bogus'], "Unknown option '-b'"],
  ])('refuses %j with one line and exit 2', async (args, message) => {
    const r = await client(args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(`update_engine_client: ${message}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('says the daemon is not running, with the socket path, when the socket is missing', async () => {
    const socketPath = join(dir, 'none.sock');
    const r = await client(['--socket', socketPath, '-status']);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe(
      `update_engine_client: Cannot connect to the update daemon at "${socketPath}": the socket does not exist (is the update-engine daemon running?)\n`,
    );
    // -update has update_engine_client's codes only: 0, or 1 for every failure.
    const update = await client(['--socket', socketPath, '-update']);
    expect([update.code, update.stderr]).toEqual([1, r.stderr]);
  });
});

describe('update_engine_client: commands', () => {
  it("-status and --status print update_engine's format exactly; the socket may come from the settings", async () => {
    const handler = new FakeControlHandler({
      status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT',
      lastCheckedTimeSeconds: 1556272591,
      newVersion: '2079.3.2',
      newSizeBytes: 399568805,
    });
    const { socketPath } = await daemon(handler);
    const expected =
      'LAST_CHECKED_TIME=1556272591\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\nNEW_VERSION=2079.3.2\nNEW_SIZE=399568805\n';
    const runs = await Promise.all([
      client(['-socket', socketPath, '-status']),
      client([`--socket=${socketPath}`, '--status']),
      client(['-status'], { UPDATE_ENGINE_CONTROL_SOCKET: socketPath }),
      // gflags spellings, as users type them for update_engine_client
      client([`-socket=${socketPath}`, '-status=true']),
      client(['--socket', socketPath, '--status=true']),
      client(['-socket', socketPath, '-status', 'true']),
      client(['-socket', socketPath, '-status=1', '-noupdate', '-watch_for_updates=false']),
    ]);
    for (const r of runs) expect([r.code, r.stdout, r.stderr]).toEqual([0, expected, '']);
  });

  it('-check_for_update starts a check and waits at most 5 s for the answer; -reset_status prints what the daemon did', async () => {
    const { socketPath, handler } = await daemon(new FakeControlHandler({ status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', newVersion: '2.0.0' }));
    handler.stepMs = 60_000; // the check stays running: the client must not wait for it
    const check = await client(['--socket', socketPath, '-check_for_update']);
    expect([check.code, check.stdout]).toEqual([0, 'Update check started\n']);
    expect(handler.checks).toBe(1);
    const busy = await client(['--socket', socketPath, '-reset_status']);
    expect([busy.code, busy.stderr]).toEqual([1, 'update_engine_client: Cannot reset while an update runs (status UPDATE_STATUS_UPDATED_NEED_REBOOT)\n']);
  });

  it('-update follows an update to UPDATED_NEED_REBOOT with plain lines and exits 0', async () => {
    const { socketPath } = await daemon();
    const r = await client(['--socket', socketPath, '-update']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('UPDATE_STATUS_IDLE');
    expect(lines).toContain('UPDATE_STATUS_UPDATE_AVAILABLE 2.0.0 (4096 bytes)');
    expect(lines).toContain('UPDATE_STATUS_DOWNLOADING 50.0% - downloading 2048 of 4096 bytes');
    expect(lines.map((l) => l.split(' ')[0]).filter((s, i, all) => s !== all[i - 1])).toEqual([
      'UPDATE_STATUS_IDLE',
      'UPDATE_STATUS_CHECKING_FOR_UPDATE',
      'UPDATE_STATUS_UPDATE_AVAILABLE',
      'UPDATE_STATUS_DOWNLOADING',
      'UPDATE_STATUS_VERIFYING',
      'UPDATE_STATUS_FINALIZING',
      'UPDATE_STATUS_UPDATED_NEED_REBOOT',
      'Update',
    ]);
    expect(lines.at(-1)).toBe('Update to 2.0.0 installed; reboot to use it');
  });

  it('a rollout refusal: -update and -check_for_update print the reason and exit 0', async () => {
    const { socketPath } = await daemon(undefined, 'refused');
    const update = await client(['--socket', socketPath, '-update']);
    expect(update.code).toBe(0);
    expect(update.stdout.trimEnd().split('\n').slice(-2)).toEqual([expect.stringContaining('(error-maxConcurrentUpdatesLimitReached)'), 'No update available']);
    const check = await client(['--socket', socketPath, '-check_for_update']);
    expect([check.code, check.stdout.split('\n')[0]]).toEqual([0, 'Update check started']);
    expect(check.stdout).toContain('The server holds the update back (error-maxConcurrentUpdatesLimitReached)');
  });

  it('-update exits 0 with a line saying so when there is no update', async () => {
    const { socketPath } = await daemon(undefined, 'no-update');
    const r = await client(['--socket', socketPath, '-update']);
    expect([r.code, r.stdout.trimEnd().split('\n').at(-1), r.stderr]).toEqual([0, 'No update available', '']);
  });

  it("-update exits 1 (update_engine_client's code) with the reason when the cycle fails", async () => {
    const { socketPath } = await daemon(undefined, 'error');
    const r = await client(['--socket', socketPath, '-update']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('update_engine_client: Update failed: No signature of the payload verifies with a trusted key (ERR_PAYLOAD_SIGNATURE)\n');
    expect(r.stdout).toContain('UPDATE_STATUS_REPORTING_ERROR_EVENT');
  });

  it('-watch_for_updates prints changes until interrupted (exit 0) or the daemon goes away (exit 6)', async () => {
    const { socketPath, handler } = await daemon();
    const watcher = spawnClient(['--socket', socketPath, '-watch_for_updates']);
    await watcher.waitFor('UPDATE_STATUS_IDLE\n');
    handler.check();
    await watcher.waitFor('UPDATE_STATUS_UPDATED_NEED_REBOOT\n');
    watcher.child.kill('SIGINT');
    expect(await watcher.exited).toBe(0);
    expect(watcher.stdout()).toContain('UPDATE_STATUS_DOWNLOADING 100.0%');
    // update_engine_client's own output: glog INFO lines on stderr, six per status signal.
    const glog = watcher.stderr().trimEnd().split('\n');
    expect(glog.length % 6).toBe(0);
    expect(glog[0]).toMatch(/^I\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ update_engine_client\.cc:79\] Got status update:$/);
    expect(glog.slice(1, 6).map((l) => l.replace(/^.*\] /, ''))).toEqual([
      '  last_checked_time: 0',
      '  progress: 0',
      '  current_operation: UPDATE_STATUS_IDLE',
      '  new_version: 0.0.0',
      '  new_size: 0',
    ]);
    expect(glog.map((l) => l.replace(/^.*\] /, ''))).toContain('  progress: 0.5');

    const again = spawnClient(['--socket', socketPath, '-watch_for_updates']);
    await again.waitFor('UPDATE_STATUS_UPDATED_NEED_REBOOT\n');
    await server?.close();
    server = undefined;
    expect(await again.exited).toBe(6);
    expect(again.stderr().trimEnd().split('\n').at(-1)).toBe(`update_engine_client: The update daemon closed the connection on "${socketPath}"`);
  });

  it('-update shows a progress bar on a TTY', async () => {
    requireTool('script');
    const { socketPath } = await daemon();
    // `script` runs the client on a pseudo-terminal; spawned asynchronously, since the server runs in this process.
    const command = `${process.execPath} ${REPO_ROOT}bin/update_engine_client.js --socket ${socketPath} -update`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: cleanEnv({ TERM: 'xterm' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(0);
    // Every status is drawn as a bar (progress redraws in between are throttled, so not all of them show).
    for (const status of ['CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING']) {
      expect(out).toMatch(new RegExp(`UPDATE_STATUS_${status} \\[[=-]{30}\\] \\d+%`));
    }
    expect(out).toMatch(/UPDATE_STATUS_UPDATED_NEED_REBOOT \[-{30}\] 0%/);
    expect(out).toContain('Update to 2.0.0 installed; reboot to use it');
    expect(out).not.toContain('UPDATE_STATUS_IDLE\r\n');
  });

  it('refuses a user outside CONTROL_GROUP with a clear line', async () => {
    requireRoot('running the client as nobody');
    requireTool('setpriv');
    const { socketPath } = await daemon();
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, `${REPO_ROOT}bin/update_engine_client.js`, '--socket', socketPath, '-status'],
      {
        encoding: 'utf8',
        env: cleanEnv({ HOME: '/nonexistent' }),
        cwd: REPO_ROOT,
        timeout: 30_000,
      },
    );
    expect(r.status).toBe(6);
    expect(r.stderr).toBe(
      `update_engine_client: Cannot connect to the update daemon at "${socketPath}": permission denied (only root and members of CONTROL_GROUP may use it)\n`,
    );
  });
});
