// Security review (docs/security.md, "Secrets never logged"): a full daemon cycle at trace level,
// with DOWNLOAD_USER/DOWNLOAD_PASSWORD and LOCKSMITHD_ETCD_USERNAME/_PASSWORD set and the reboot lock
// taken from a real etcd with authentication on; then with a wrong etcd password (the error path).
// Neither password, nor the user:password pair in base64, appears anywhere in the log.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDaemon } from '../../src/daemon/main.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.ts';
import { requireTool } from '../helpers/tools.ts';

const DOWNLOAD_SECRET = 'dl-Pa55-8f3e1c';
const ETCD_SECRET = 'etcd-Pa55-2b9d7a';
const WRONG_ETCD_SECRET = 'wrong-Pa55-6c4e0f';

let etcd: EtcdCluster;
let dir: string;
let lab: UpdateLab;

function etcdctl(...args: string[]): string {
  return execFileSync('etcdctl', ['--endpoints', etcd.endpoints[0] as string, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
}

beforeAll(async () => {
  requireTool('etcd');
  requireTool('etcdctl');
  etcd = await startEtcd();
  etcdctl('user', 'add', `root:${ETCD_SECRET}`, '--interactive=false');
  etcdctl('role', 'add', 'root');
  etcdctl('user', 'grant-role', 'root', 'root');
  etcdctl('auth', 'enable');
});
afterAll(() => etcd?.stop());

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-secrets-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the daemon once at trace level; returns every log line and how it ended (the error's code and message). */
async function daemonLog(etcdPassword: string, stopWhen?: (line: string) => boolean): Promise<{ lines: string[]; outcome: string }> {
  const sink = new PassThrough();
  const lines: string[] = [];
  const stop = new AbortController();
  sink.on('data', (c: Buffer) => {
    for (const line of c.toString('utf8').split('\n').filter(Boolean)) {
      lines.push(line);
      if (stopWhen?.(line)) stop.abort(new UpdateEngineError('ERR_ABORTED', 'the test saw what it waited for'));
    }
  });
  const settings = lab.settings({
    logLevel: 'trace',
    rebootStrategy: 'etcd-lock',
    etcdEndpoints: etcd.endpoints.join(','),
    etcdUsername: 'root',
    etcdPassword,
    downloadUser: 'fleet',
    downloadPassword: DOWNLOAD_SECRET,
  });
  const outcome = await runDaemon(settings, {
    once: true,
    logger: createLogger({ level: 'trace', pretty: false, destination: sink }),
    signal: stop.signal,
    identityPaths: lab.identityPaths(),
  }).then(
    (code) => `exit ${code}`,
    (e: unknown) => (e instanceof UpdateEngineError ? `${e.code}: ${e.message}` : String(e)),
  );
  return { lines, outcome };
}

function expectNoSecrets(lines: string[], secrets: string[]): void {
  const text = lines.join('\n');
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    for (const user of ['root', 'fleet']) expect(text).not.toContain(Buffer.from(`${user}:${secret}`).toString('base64'));
  }
}

describe('secrets in the daemon log (trace level)', () => {
  it('a whole update with the etcd reboot lock taken with a password logs neither password', async () => {
    const { lines, outcome } = await daemonLog(ETCD_SECRET);
    expect(outcome).toBe('exit 0');
    const holders = etcdctl('--user', `root:${ETCD_SECRET}`, 'get', '--print-value-only', 'coreos.com/updateengine/rebootlock/semaphore');
    expect(JSON.parse(holders).holders).toHaveLength(1); // the password was used: the lock is held
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes('"level":20'))).toBe(true); // debug lines were written too
    expectNoSecrets(lines, [DOWNLOAD_SECRET, ETCD_SECRET]);
  });

  it('a refused etcd password is reported without the password', async () => {
    // The update is applied, then the reboot hand-over cannot take the lock and retries: stop at the first report.
    const refused = (line: string) => /"level":(40|50)/.test(line) && /authentication failed/.test(line);
    const { lines, outcome } = await daemonLog(WRONG_ETCD_SECRET, refused);
    expect(lines.some(refused) || /authentication failed/.test(outcome)).toBe(true);
    expectNoSecrets([...lines, outcome], [DOWNLOAD_SECRET, WRONG_ETCD_SECRET, ETCD_SECRET]);
  });
});
