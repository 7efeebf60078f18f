// systemd's notify protocol as the daemon speaks it, received on a real Unix datagram socket (a small
// python3 receiver with SO_PASSCRED, as systemd reads it): READY=1 with STATUS= once the daemon serves,
// WATCHDOG=1 pings at half WATCHDOG_USEC, STATUS= at status changes, STOPPING=1 at the end.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { statusLine, SystemdNotifier, watchdogIntervalMs } from '../../src/platform/sd-notify.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { PassThrough } from 'node:stream';
import { startNotifyReceiver, type Datagram } from '../helpers/notify-receiver.ts';
import { isRoot } from '../helpers/tools.ts';

let dir: string;
let receiver: ChildProcess | undefined;
const received: Datagram[] = [];

async function startReceiver(path: string): Promise<void> {
  receiver = await startNotifyReceiver(path, received);
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(received)}`);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-notify-'));
  received.length = 0;
});
afterEach(async () => {
  receiver?.kill('SIGTERM');
  receiver = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('sd_notify', () => {
  it("READY=1 once serving, WATCHDOG=1 pings, STATUS= changes and STOPPING=1, in the daemon pid's name", async () => {
    const socketPath = join(dir, 'notify.sock');
    await startReceiver(socketPath);
    const lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 4 * 1024 * 1024 });
    await lab.setUp();
    const stop = new AbortController();
    const env = { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) };
    const daemon = runDaemon(lab.settings(), { once: false, logger: silentLogger(), signal: stop.signal, identityPaths: lab.identityPaths(), system: { env } });
    try {
      await waitFor(() => received.some((d) => d.text.split('\n').includes('READY=1')), 'READY=1');
      const ready = received.find((d) => d.text.split('\n').includes('READY=1')) as Datagram;
      expect(ready.text.split('\n')).toContain('STATUS=UPDATE_STATUS_IDLE');
      // As root, systemd-notify --pid sends with the daemon's pid, as NotifyAccess=main would need.
      if (isRoot()) expect(ready.pid).toBe(process.pid);
      await waitFor(() => received.filter((d) => d.text.includes('WATCHDOG=1')).length >= 3, 'three watchdog pings');
    } finally {
      stop.abort();
      await daemon;
    }
    await waitFor(() => received.some((d) => d.text.includes('STOPPING=1')), 'STOPPING=1');
    await lab.close();
  });

  it('warns once, and goes on, when systemd-notify cannot be run', async () => {
    const sink = new PassThrough();
    const lines: Array<{ level: number; msg: string }> = [];
    sink.on('data', (c: Buffer) =>
      lines.push(
        ...c
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { level: number; msg: string }),
      ),
    );
    const logger = createLogger({ level: 'debug', pretty: false, destination: sink });
    const notifier = SystemdNotifier.fromEnvironment({ env: { NOTIFY_SOCKET: join(dir, 'none') }, logger, command: join(dir, 'no-systemd-notify') });
    expect(notifier).toBeDefined();
    await notifier?.ready('UPDATE_STATUS_IDLE');
    notifier?.status('UPDATE_STATUS_CHECKING_FOR_UPDATE');
    await notifier?.stopping();
    await new Promise((r) => setImmediate(r));
    const complaints = lines.filter((l) => l.msg.startsWith('Cannot tell systemd'));
    expect(complaints[0]).toMatchObject({ level: 40, msg: expect.stringContaining('"READY=1 STATUS=UPDATE_STATUS_IDLE" with') });
    expect(complaints.slice(1).every((l) => l.level === 20)).toBe(true);
    expect(SystemdNotifier.fromEnvironment({ env: {} })).toBeUndefined();
  });

  it('arms the watchdog only for this pid, and words STATUS= from the status', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '60000000' }, 7)).toBe(60_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '8' }, 7)).toBeUndefined();
    expect(watchdogIntervalMs({}, 7)).toBeUndefined();
    expect(statusLine('UPDATE_STATUS_IDLE', 0, '0.0.0')).toBe('UPDATE_STATUS_IDLE');
    expect(statusLine('UPDATE_STATUS_DOWNLOADING', 0.425, '2.0.0')).toBe('UPDATE_STATUS_DOWNLOADING 40% of 2.0.0');
    expect(statusLine('UPDATE_STATUS_DOWNLOADING', 0.05, '2.0.0')).toBe('UPDATE_STATUS_DOWNLOADING 0% of 2.0.0');
    expect(statusLine('UPDATE_STATUS_UPDATED_NEED_REBOOT', 1, '2.0.0')).toBe('UPDATE_STATUS_UPDATED_NEED_REBOOT version 2.0.0');
  });
});
