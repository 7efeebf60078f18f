// `update-engine serve` as a user runs it: the first stdout line, answers to a real client, the
// --events log, a clean exit on SIGTERM, and one-line errors for bad command lines.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { omahaEvents } from '../../src/omaha/events.ts';
import { OmahaClient } from '../../src/omaha/omaha-client.ts';
import { REPO_ROOT, cleanEnv, runCli } from '../helpers/cli.ts';
import { makeTestPayload, type TestPayload } from '../helpers/omaha-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-command-'));
let older: TestPayload;
let newer: TestPayload;

beforeAll(async () => {
  older = await makeTestPayload(dir, { version: '5.0.0', imageBytes: 50_000 });
  newer = await makeTestPayload(dir, { version: '5.1.0', imageBytes: 50_000 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `update-engine serve`, resolves with the process and its first stdout line. */
function startServe(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; firstLine: string; stderr: () => string }> {
  const child = spawn(process.execPath, [`${REPO_ROOT}bin/update-engine.js`, 'serve', ...args], { env: cleanEnv(), cwd: REPO_ROOT });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, firstLine: out.slice(0, nl), stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('update-engine serve', () => {
  it('listens on loopback, offers the newest newer payload, logs events, stops on SIGTERM', async () => {
    const events = join(dir, 'events.jsonl');
    const { child, firstLine } = await startServe(['--payload', older.path, '--payload', newer.path, '--events', events]);
    const transport = await GotTransport.create({ env: {} });
    try {
      expect(firstLine).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+\/v1\/update\/$/);
      const client = new OmahaClient({ serverUrl: firstLine.slice('listening '.length), transport, retry: { attempts: 1 } });
      const identity = {
        appId: '{any-app}',
        version: '4.9.0',
        track: 'stable',
        machineId: 'feedfeedfeedfeedfeedfeedfeedfeed',
        bootId: '{b}',
        alephVersion: '4.0.0',
      };
      const offer = await client.checkForUpdate({ ...identity, previousVersion: '4.8.0' });
      expect(offer).toMatchObject({ kind: 'update', version: '5.1.0', sizeBytes: newer.payloadSizeBytes, sha256Base64: newer.payloadSha256Base64 });
      await client.sendEvent({ ...identity, event: omahaEvents.downloadStarted() });
      const lines = readFileSync(events, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
      expect(lines).toEqual([
        { machineid: identity.machineId, version: '4.9.0', eventtype: 3, eventresult: 2, errorcode: null, previousversion: '4.8.0' },
        { machineid: identity.machineId, version: '4.9.0', eventtype: 13, eventresult: 1, errorcode: null, previousversion: null },
      ]);
    } finally {
      transport.close();
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('honours --track and --port', async () => {
    const { child, firstLine } = await startServe(['--payload', newer.path, '--track', 'beta', '--port', '0', '--host', '127.0.0.1']);
    const transport = await GotTransport.create({ env: {} });
    try {
      const client = new OmahaClient({ serverUrl: firstLine.slice('listening '.length), transport, retry: { attempts: 1 } });
      const identity = { appId: '{a}', version: '1.0.0', machineId: 'm', bootId: '{b}', alephVersion: '1.0.0', previousVersion: '' };
      expect((await client.checkForUpdate({ ...identity, track: 'beta' })).kind).toBe('update');
      expect((await client.checkForUpdate({ ...identity, track: 'stable' })).kind).toBe('noupdate');
    } finally {
      transport.close();
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('prints its help', async () => {
    const r = await runCli('update-engine', ['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: update-engine serve --payload FILE');
    expect(r.stdout).toContain('Nebraska');
  });

  const junk = join(dir, 'junk.payload');
  const errors: Array<[string, () => string[], number, RegExp]> = [
    ['no --payload', () => [], 2, /needs at least one --payload/],
    ['a missing payload', () => ['--payload', join(dir, 'nope.payload')], 2, /Cannot read payload ".*nope.payload"/],
    [
      'a file that is not a payload',
      () => {
        writeFileSync(junk, 'x'.repeat(2000));
        return ['--payload', junk];
      },
      4,
      /./,
    ],
    ['a bad port', () => ['--payload', newer.path, '--port', '99999'], 2, /--port "99999"/],
    ['an unknown option', () => ['--payload', newer.path, '--bogus'], 2, /bogus/],
    ['two payloads of one version', () => ['--payload', newer.path, '--payload', newer.path], 2, /both hold version "5.1.0"/],
  ];
  for (const [name, args, code, message] of errors) {
    it(`refuses ${name} with one line and exit ${code}`, async () => {
      const r = await runCli('update-engine', ['serve', ...args()]);
      expect(r.code).toBe(code);
      const first = r.stderr.split('\n')[0] ?? '';
      expect(first).toMatch(/^update-engine: /);
      expect(first).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    });
  }
});
