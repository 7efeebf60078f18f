// End to end on image files: the real daemon (--once) against the development Omaha server, with
// the boot simulator as the bootloader: A -> B -> mark good -> A, a failed verification, a rollback,
// and a restart during the download.

import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab, TEST_KEYS_DIR } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import type { UpdateEngine } from '../../src/daemon/engine.ts';
import { sgdiskVerify } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';

let dir: string;
let lab: UpdateLab;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-e2e-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 6 * 1024 * 1024 });
  await lab.setUp();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

async function daemonOnce(
  extra: Record<string, string> = {},
  hooks: { onEngine?: (e: UpdateEngine) => void; signal?: AbortSignal; rebooter?: RecordingRebooter } = {},
): Promise<number> {
  return runDaemon(lab.settings(extra), {
    once: true,
    logger: silentLogger(),
    signal: hooks.signal ?? new AbortController().signal,
    identityPaths: lab.identityPaths(),
    ...(hooks.onEngine ? { onEngine: hooks.onEngine } : {}),
    overrides: { rebooter: hooks.rebooter ?? new RecordingRebooter() },
  });
}

async function slotBytesEqualImage(partition: number, imagePath: string): Promise<boolean> {
  const slot = (await lab.slots()).find((s) => s.partition === partition)!;
  const image = await readFile(imagePath);
  const disk = await readFile(lab.disk);
  return disk.subarray(slot.byteOffset, slot.byteOffset + image.length).equals(image);
}

const attrs = async () => Object.fromEntries((await lab.slots()).map((s) => [s.label, { priority: s.priority, tries: s.tries, successful: s.successful }]));

describe('the update cycle on an image file', () => {
  it('updates A -> B, boots B, marks it good, then updates B -> A', async () => {
    requireTool('sgdisk');
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    expect(await daemonOnce()).toBe(0);
    expect(await attrs()).toEqual({ 'USR-A': { priority: 1, tries: 0, successful: true }, 'USR-B': { priority: 2, tries: 1, successful: false } });
    expect(await slotBytesEqualImage(4, v2.imagePath)).toBe(true);
    expect(sgdiskVerify(lab.disk).ok).toBe(true);
    // No check says 3/2 before the reboot; "installed" is Nebraska's 800/1, not 3/1 (complete for any app id but Flatcar's).
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['13/1', '14/1', '800/1']);

    expect((await lab.reboot()).partition).toBe(4);
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0); // post-boot: health gate, mark good, 3/2 once, then a check
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 0, successful: true });
    expect(lab.events).toEqual([expect.objectContaining({ eventtype: 3, eventresult: 2, previousversion: '1.0.0', version: '2.0.0' })]);
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0); // exactly once: the next check carries no 3/2
    expect(lab.events).toEqual([]);

    const v3 = await lab.addPayload('3.0.0');
    await lab.serve();
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['13/1', '14/1', '800/1']);
    expect(await slotBytesEqualImage(3, v3.imagePath)).toBe(true);
    expect((await lab.reboot()).partition).toBe(3);
    expect(await daemonOnce()).toBe(0);
    expect(await attrs()).toEqual({ 'USR-A': { priority: 2, tries: 0, successful: true }, 'USR-B': { priority: 1, tries: 0, successful: true } });
    expect(sgdiskVerify(lab.disk).ok).toBe(true);
  });

  it('a payload signed by an untrusted key fails with 3/0 code 18, leaves A booting, and is tried again at the next check (a forgery blacklists nothing)', async () => {
    await lab.addPayload('2.0.0', { privateKeyPem: await readFile(join(TEST_KEYS_DIR, 'test-only-ed25519-second.pem'), 'utf8') });
    await lab.serve();
    const error = await daemonOnce().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpdateEngineError);
    expect((error as UpdateEngineError).code).toBe('ERR_PAYLOAD_SIGNATURE');
    expect(lab.events.map((e) => [e.eventtype, e.eventresult, e.errorcode])).toEqual([
      [13, 1, null],
      [3, 0, 18],
    ]);
    expect((await attrs())['USR-B']).toEqual({ priority: 0, tries: 0, successful: false });
    expect((await lab.reboot()).partition).toBe(3);
    lab.events.length = 0;
    await expect(daemonOnce()).rejects.toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE' }); // tried again: issue 14 point 2
    expect(lab.events.map((e) => [e.eventtype, e.eventresult, e.errorcode])).toEqual([
      [13, 1, null],
      [3, 0, 18],
    ]);
  });

  it('a new slot never marked good rolls back at the next boot, and the next check reports errorcode 44', async () => {
    await lab.addPayload('2.0.0');
    await lab.serve();
    expect(await daemonOnce()).toBe(0);
    expect((await lab.reboot()).partition).toBe(4); // tried once: tries 1 -> 0
    expect((await lab.reboot()).partition).toBe(3); // not marked good: back to A
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events[0]).toMatchObject({ eventtype: 3, eventresult: 0, errorcode: 44, version: '1.0.0' });
    // 2.0.0 is not applied again; the new grant is ended with 3/0 (the rollback report 44 is sent once).
    expect(lab.events.slice(1).map((e) => [e.eventtype, e.eventresult, e.errorcode])).toEqual([[3, 0, 40]]);
    expect((await attrs())['USR-B']).toEqual({ priority: 0, tries: 0, successful: false });
  });

  it('a health check that never passes is not marked good: the reboot command runs and the bootloader falls back', async () => {
    await lab.addPayload('2.0.0');
    await lab.serve();
    expect(await daemonOnce()).toBe(0);
    expect((await lab.reboot()).partition).toBe(4);
    const rebooter = new RecordingRebooter();
    await expect(daemonOnce({ healthCheck: 'false', healthTimeoutMs: '1s' }, { rebooter })).resolves.not.toBe(0);
    expect((await attrs())['USR-B']).toMatchObject({ successful: false, tries: 0 });
    expect(rebooter.reasons).toEqual(['the health check of USR-B did not pass; falling back']);
    expect((await lab.reboot()).partition).toBe(3);
  });

  it('resumes after the daemon is stopped during the download, and the slot gets the same bytes', async () => {
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    const stop = new AbortController();
    const first = await daemonOnce(
      { downloadBytesPerSecond: '4M' },
      {
        signal: stop.signal,
        onEngine: (engine) =>
          engine.machine.onChange((s) => {
            if (s.status === 'UPDATE_STATUS_DOWNLOADING' && s.progress > 0.3) stop.abort(new UpdateEngineError('ERR_ABORTED', 'test stop'));
          }),
      },
    ).then(
      () => 'finished',
      (e: unknown) => (e as UpdateEngineError).code,
    );
    expect(first).toBe('ERR_ABORTED');
    expect((await attrs())['USR-B']).toEqual({ priority: 0, tries: 0, successful: false });
    const checkpoint = JSON.parse(await readFile(join(lab.stateDir, 'payload-checkpoint.json'), 'utf8')) as { nextBlock: number };
    expect(checkpoint.nextBlock).toBeGreaterThan(0);
    expect(await daemonOnce()).toBe(0);
    expect(await slotBytesEqualImage(4, v2.imagePath)).toBe(true);
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 1, successful: false });
  });

  it('writes through the IO_WRITE_BPS throttle and removes its cgroup afterwards', async () => {
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    const cgroups = () =>
      existsSync('/sys/fs/cgroup/blkio') ? readdirSync('/sys/fs/cgroup/blkio').filter((n) => n.startsWith(`update-engine-io.${process.pid}.`)) : [];
    const written: number[] = [];
    const mechanisms: string[] = [];
    const metrics = {
      checkFinished() {},
      bytesDownloaded() {},
      error() {},
      phase() {},
      bytesWritten: (n: number) => written.push(n),
      writeThrottle: (m: string) => mechanisms.push(m),
    };
    const code = await runDaemon(lab.settings({ ioWriteBytesPerSecond: '16M' }), {
      once: true,
      logger: silentLogger(),
      signal: new AbortController().signal,
      identityPaths: lab.identityPaths(),
      overrides: { rebooter: new RecordingRebooter(), metrics },
    });
    expect(code).toBe(0);
    expect(mechanisms).toHaveLength(1);
    expect(['cgroup-v2', 'cgroup-v1', 'token-bucket']).toContain(mechanisms[0]);
    expect(written.reduce((a, b) => a + b, 0)).toBe(6 * 1024 * 1024);
    expect(await slotBytesEqualImage(4, v2.imagePath)).toBe(true);
    expect(cgroups()).toEqual([]);
  });

  it('keeps checking while a reboot is pending: a newer offer undoes the flip and replaces the update', async () => {
    await lab.addPayload('2.0.0');
    await lab.serve();
    expect(await daemonOnce()).toBe(0);
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 1, successful: false });
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0); // 2.0.0 again: nothing to do, the flip stays; no check says complete before the reboot
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['800/1']);
    const v3 = await lab.addPayload('3.0.0');
    await lab.serve();
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['13/1', '14/1', '800/1']);
    expect(await slotBytesEqualImage(4, v3.imagePath)).toBe(true);
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 1, successful: false });
    expect((await lab.reboot()).partition).toBe(4);
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events[0]).toMatchObject({ eventtype: 3, eventresult: 2, previousversion: '1.0.0', version: '3.0.0' });
  });

  it('with SERVER=disabled there are no checks, but a new slot is still marked good', async () => {
    await lab.addPayload('2.0.0');
    await lab.serve();
    expect(await daemonOnce()).toBe(0);
    expect((await lab.reboot()).partition).toBe(4);
    lab.events.length = 0;
    expect(await daemonOnce({ server: 'disabled' })).toBe(0);
    expect(lab.events).toEqual([]);
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 0, successful: true });
  });
});
