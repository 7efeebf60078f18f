// Tests of the persisted state (round trip, atomic writes, validation, recovery from a corrupt file)
// and of the need-reboot marker, on real files in a temp dir.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NeedRebootMarkerFile, StateStore, freshState, recordFailedVersion, writeFileAtomic, type PersistedState } from '../../src/daemon/state-store.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-state-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const FULL: PersistedState = {
  formatVersion: 1,
  lastCheckTimeMs: 1_700_000_000_000,
  previousVersion: '1.0.0',
  alephVersion: '0.9.0',
  pendingUpdate: { version: '2.0.0', sizeBytes: 123456, partition: 4, appliedAtMs: 1_700_000_100_000 },
  failedVersions: { '1.5.0': { reason: 'rolled back', code: 'ERR_ROLLBACK', count: 2, lastFailedAtMs: 1_699_000_000_000 } },
  failureCount: 3,
  backoffUntilMs: 1_700_000_900_000,
  resumePoint: { version: '2.0.0', payloadSha256Base64: 'abc=', partition: 4, checkpointPath: '/var/lib/update-engine/checkpoint.json' },
  pendingEvents: [{ eventType: 3, eventResult: 0, errorCode: 44, version: '1.0.0', previousVersion: '2.0.0', createdAtMs: 1_700_000_200_000 }],
};

describe('StateStore', () => {
  it('gives fresh state when there is no file, and creates the directory on first save', async () => {
    const stateDir = join(dir, 'nested', 'state');
    const store = new StateStore({ stateDir, clock: new FakeClock() });
    expect(await store.read()).toEqual(freshState());
    await store.save(FULL);
    expect(statSync(stateDir).isDirectory()).toBe(true);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
  });

  it('round-trips every field through the file', async () => {
    const store = new StateStore({ stateDir: dir, clock: new FakeClock() });
    await store.save(FULL);
    expect(JSON.parse(readFileSync(store.path, 'utf8'))).toEqual(FULL);
    expect(await new StateStore({ stateDir: dir, clock: new FakeClock() }).read()).toEqual(FULL);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('serializes concurrent updates (no lost read-modify-write)', async () => {
    const store = new StateStore({ stateDir: dir, clock: new FakeClock() });
    await Promise.all(Array.from({ length: 20 }, () => store.update((s) => ({ ...s, failureCount: s.failureCount + 1 }))));
    expect((await store.read()).failureCount).toBe(20);
  });

  it('refuses to save an invalid state as a bug', async () => {
    const store = new StateStore({ stateDir: dir, clock: new FakeClock() });
    await expect(store.save({ ...freshState(), failureCount: -1 })).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
  });

  it.each([
    ['not JSON', '{"formatVersion":1,', /is invalid: not JSON/],
    ['a wrong type', JSON.stringify({ ...freshState(), failureCount: 'many' }), /is invalid: failureCount: /],
    ['an unknown format version', JSON.stringify({ ...freshState(), formatVersion: 2 }), /is invalid: formatVersion: /],
  ])('read() throws ERR_STATE with the path for %s', async (_what, text, message) => {
    const store = new StateStore({ stateDir: dir, clock: new FakeClock() });
    writeFileSync(store.path, text);
    const error = await store.read().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STATE' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`"${store.path}"`);
  });

  it('load() moves a corrupt file aside, warns, and starts fresh', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const lines: string[] = [];
    const logger = createLogger({
      pretty: false,
      destination: new Writable({
        write: (c, _e, cb) => {
          lines.push(String(c));
          cb();
        },
      }),
    });
    const store = new StateStore({ stateDir: dir, clock, logger });
    writeFileSync(store.path, 'garbage');
    const { state, movedAsideTo } = await store.load();
    expect(state).toEqual(freshState());
    expect(movedAsideTo).toBe(`${store.path}.corrupt-1700000000000`);
    expect(readFileSync(movedAsideTo as string, 'utf8')).toBe('garbage');
    expect(await store.read()).toEqual(freshState());
    const warning = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(warning).toMatchObject({ level: 40, path: store.path, movedAsideTo });
  });

  it('load() of a valid file changes nothing', async () => {
    const store = new StateStore({ stateDir: dir, clock: new FakeClock() });
    await store.save(FULL);
    expect(await store.load()).toEqual({ state: FULL });
  });

  it('a state directory that cannot be written gives ERR_STATE with the path', async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, '');
    const store = new StateStore({ stateDir: join(blocker, 'sub'), clock: new FakeClock() });
    const error = await store.save(FULL).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_STATE' });
    expect((error as Error).message).toContain(`Cannot write the state file "${join(blocker, 'sub', 'state.json')}"`);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file in one step and leaves no temp file behind, even on failure', async () => {
    const path = join(dir, 'x.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['x.json']);
    await expect(writeFileAtomic(join(dir, 'missing', 'y'), 'z')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['x.json']);
  });
});

describe('recordFailedVersion', () => {
  it('counts failures per version and keeps the latest reason', () => {
    let s = recordFailedVersion(freshState(), '2.0.0', { reason: 'hash mismatch', code: 'ERR_PAYLOAD_HASH_MISMATCH' }, 10);
    s = recordFailedVersion(s, '2.0.0', { reason: 'rolled back', code: 'ERR_ROLLBACK' }, 20);
    s = recordFailedVersion(s, '3.0.0', { reason: 'x' }, 30);
    expect(s.failedVersions).toEqual({
      '2.0.0': { reason: 'rolled back', code: 'ERR_ROLLBACK', count: 2, lastFailedAtMs: 20 },
      '3.0.0': { reason: 'x', count: 1, lastFailedAtMs: 30 },
    });
  });
});

describe('NeedRebootMarkerFile', () => {
  it('is absent, then written (creating RUN_DIR), read back, and cleared', async () => {
    const marker = new NeedRebootMarkerFile(join(dir, 'run', 'update-engine'));
    expect(await marker.read()).toBeUndefined();
    await marker.write({ version: '2.0.0', partition: 4, flippedAtMs: 5 });
    expect(await marker.read()).toEqual({ version: '2.0.0', partition: 4, flippedAtMs: 5 });
    await marker.clear();
    await marker.clear();
    expect(await marker.read()).toBeUndefined();
  });

  it('reports an invalid marker with its path', async () => {
    const marker = new NeedRebootMarkerFile(dir);
    writeFileSync(marker.path, '{}');
    await expect(marker.read()).rejects.toMatchObject({ code: 'ERR_STATE', message: expect.stringContaining(`"${marker.path}" is invalid`) });
  });
});
