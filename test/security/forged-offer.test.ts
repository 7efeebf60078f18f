// Attacks by a forged update answer (issue 14, points 2 and 3): a payload that does not verify never
// blacklists the real release, and never undoes a verified pending update. The real daemon (--once)
// runs against the development Omaha server on an image file; the forgery is a payload signed by an
// untrusted key under the offered version.

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab, TEST_KEYS_DIR } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { freshState, type PersistedState } from '../../src/daemon/state-store.ts';
import { failureForManifest, failureForOffer, forgetFailures, rememberFailure } from '../../src/daemon/failure-memory.ts';

let dir: string;
let lab: UpdateLab;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-forged-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 3 * 1024 * 1024 });
  await lab.setUp();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

const daemonOnce = (extra: Record<string, string> = {}): Promise<number | string> =>
  runDaemon(lab.settings(extra), {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  }).catch((e: { code?: string }) => e.code ?? 'thrown');

const attrs = async () => Object.fromEntries((await lab.slots()).map((s) => [s.label, { priority: s.priority, tries: s.tries, successful: s.successful }]));
const state = async () => JSON.parse(await readFile(join(lab.stateDir, 'state.json'), 'utf8')) as PersistedState;
const strangerKey = () => readFile(join(TEST_KEYS_DIR, 'test-only-ed25519-second.pem'), 'utf8');

/** Replaces what the server offers with one payload. */
async function offer(version: string, forged: boolean) {
  lab.payloads.length = 0;
  const p = await lab.addPayload(version, forged ? { privateKeyPem: await strangerKey() } : {});
  await lab.serve();
  return p;
}

async function slotHolds(partition: number, imagePath: string): Promise<boolean> {
  const slot = (await lab.slots()).find((s) => s.partition === partition)!;
  const image = await readFile(imagePath);
  const disk = await readFile(lab.disk);
  return disk.subarray(slot.byteOffset, slot.byteOffset + image.length).equals(image);
}

describe('a forged answer cannot blacklist a release (point 2)', () => {
  it('a forged 2.0.0 fails, nothing is remembered against 2.0.0, and the real 2.0.0 then applies', async () => {
    await offer('2.0.0', true);
    expect(await daemonOnce()).toBe('ERR_PAYLOAD_SIGNATURE');
    expect((await state()).failedVersions).toEqual({});
    expect((await state()).backoffUntilMs).toBeUndefined();
    expect((await attrs())['USR-B']).toEqual({ priority: 0, tries: 0, successful: false });
    const real = await offer('2.0.0', false);
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['13/1', '14/1', '800/1']);
    expect(await slotHolds(4, real.imagePath)).toBe(true);
    expect((await attrs())['USR-B']).toEqual({ priority: 2, tries: 1, successful: false });
  });

  it('a verified release that rolled back is remembered by version and hash: the same payload is deferred, a rebuilt one applies', async () => {
    await offer('2.0.0', false);
    expect(await daemonOnce()).toBe(0);
    expect((await lab.reboot()).partition).toBe(4);
    expect((await lab.reboot()).partition).toBe(3); // never marked good: rolled back
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    const failed = (await state()).failedVersions['2.0.0'];
    expect(failed).toMatchObject({ code: 'ERR_ROLLBACK', imageSha256Hex: expect.stringMatching(/^[0-9a-f]{64}$/), payloadSha256Base64: expect.any(String) });
    // The rollback is reported once (44); the same payload is not taken, and the grant is ended with 3/0 40.
    expect(lab.events.map((e) => [e.eventtype, e.eventresult, e.errorcode])).toEqual([
      [3, 0, 44],
      [3, 0, 40],
    ]);
    const rebuilt = await offer('2.0.0', false); // a new build under the same version (new random image)
    lab.events.length = 0;
    expect(await daemonOnce()).toBe(0);
    expect(lab.events.map((e) => `${e.eventtype}/${e.eventresult}`)).toEqual(['13/1', '14/1', '800/1']);
    expect(await slotHolds(4, rebuilt.imagePath)).toBe(true);
  });
});

describe('a forged offer cannot undo a verified pending update (point 3)', () => {
  it('a forged 3.0.0 leaves the pending 2.0.0 flip, marker, state and slot as they were; the real 3.0.0 then replaces it', async () => {
    const v2 = await offer('2.0.0', false);
    expect(await daemonOnce()).toBe(0);
    const before = { attrs: await attrs(), pending: (await state()).pendingUpdate };
    expect(before.pending?.version).toBe('2.0.0');
    await offer('3.0.0', true);
    expect(await daemonOnce()).toBe('ERR_PAYLOAD_SIGNATURE');
    expect(await attrs()).toEqual(before.attrs);
    expect((await state()).pendingUpdate).toEqual(before.pending);
    expect(existsSync(join(lab.runDir, 'need-reboot'))).toBe(true);
    expect(await slotHolds(4, v2.imagePath)).toBe(true);
    const v3 = await offer('3.0.0', false);
    expect(await daemonOnce()).toBe(0);
    expect((await state()).pendingUpdate?.version).toBe('3.0.0');
    expect(await slotHolds(4, v3.imagePath)).toBe(true);
    expect((await lab.reboot()).partition).toBe(4);
  });
});

describe('failure memory (pure)', () => {
  const day = 86_400_000;
  const base = rememberFailure(
    freshState(),
    { version: '2.0.0', imageSha256Hex: 'a'.repeat(64), payloadSha256Base64: 'P' },
    { reason: 'rolled back', code: 'ERR_ROLLBACK' },
    0,
  );
  it('matches an offer only with the same payload hash, a manifest only with the same image hash', () => {
    expect(failureForOffer(base, { version: '2.0.0', sha256Base64: 'P' }, 1, 7 * day)).toBeDefined();
    expect(failureForOffer(base, { version: '2.0.0', sha256Base64: 'Q' }, 1, 7 * day)).toBeUndefined();
    expect(failureForManifest(base, { version: '2.0.0', imageSha256: 'a'.repeat(64) }, 1, 7 * day)).toBeDefined();
    expect(failureForManifest(base, { version: '2.0.0', imageSha256: 'b'.repeat(64) }, 1, 7 * day)).toBeUndefined();
  });
  it('expires after FAILED_VERSION_TTL and when a newer verified version is applied', () => {
    expect(failureForOffer(base, { version: '2.0.0', sha256Base64: 'P' }, 7 * day, 7 * day)).toBeUndefined();
    expect(forgetFailures(base, '2.0.1', 1, 7 * day).failedVersions).toEqual({});
    expect(Object.keys(forgetFailures(base, '1.9.0', 1, 7 * day).failedVersions)).toEqual(['2.0.0']);
  });
  it('ignores entries an older engine wrote for unverified failures (signature, hash)', () => {
    const old: PersistedState = {
      ...freshState(),
      failedVersions: { '2.0.0': { reason: 'bad signature', code: 'ERR_PAYLOAD_SIGNATURE', count: 1, lastFailedAtMs: 0 } },
    };
    expect(failureForOffer(old, { version: '2.0.0', sha256Base64: 'P' }, 1, 7 * day)).toBeUndefined();
  });
});
