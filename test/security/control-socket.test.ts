// Security review (docs/security.md, "Control socket"): the real daemon, started with CONTROL_GROUP
// set to a temporary group, serves its socket so that a member can ask for a check (and the update
// happens) while a user outside the group cannot connect at all, so cannot check or reset.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDaemon } from '../../src/daemon/main.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

const run = promisify(execFile);
const GROUP = `uesec${process.pid}`;
let gid: number;
let dir: string;
let lab: UpdateLab;

beforeAll(() => {
  requireRoot('creating a temporary group and running clients as nobody');
  requireTool('setpriv');
  execFileSync('groupadd', [GROUP]);
  gid = Number(execFileSync('getent', ['group', GROUP], { encoding: 'utf8' }).split(':')[2]);
});
afterAll(() => {
  spawnSync('groupdel', [GROUP]);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-sec-ctl-'));
  await chmod(dir, 0o755); // nobody may walk to the socket: only its own mode and group decide
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

/** As uid/gid 65534 with the given supplementary groups: sends one request, prints the first answer line or the connect error. */
async function requestAsNobody(socketPath: string, groups: number[], method: string): Promise<string> {
  const script =
    "const s=require('net').createConnection(process.argv[1]);s.on('connect',()=>s.write(JSON.stringify({id:1,method:process.argv[2]})+'\\n'));" +
    "let b='';s.on('data',(d)=>{b+=d;if(b.includes('\\n')){console.log(b.split('\\n')[0]);process.exit(0)}});s.on('error',(e)=>{console.log(e.code);process.exit(1)})";
  const groupArgs = groups.length > 0 ? [`--groups=${groups.join(',')}`] : ['--clear-groups'];
  const r = await run('setpriv', ['--reuid=65534', '--regid=65534', ...groupArgs, process.execPath, '-e', script, socketPath, method]).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return r.stdout.trim();
}

async function waitForSocket(path: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await stat(path).catch(() => undefined))?.isSocket()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the daemon never created ${path}`);
}

describe("the daemon's control socket and CONTROL_GROUP", () => {
  it('a user outside CONTROL_GROUP cannot connect; a member can check, and the update happens', async () => {
    const settings = lab.settings({ controlGroup: GROUP });
    const stop = new AbortController();
    const daemon = runDaemon(settings, { once: false, logger: silentLogger(), signal: stop.signal, identityPaths: lab.identityPaths() });
    try {
      await waitForSocket(settings.controlSocket);
      const st = await stat(settings.controlSocket);
      expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o660, 0, gid]);

      expect(await requestAsNobody(settings.controlSocket, [], 'check')).toBe('EACCES');
      expect(await requestAsNobody(settings.controlSocket, [], 'reset')).toBe('EACCES');
      expect(await requestAsNobody(settings.controlSocket, [65534], 'status')).toBe('EACCES');
      expect((await lab.slots()).find((s) => s.partition === 4)).toMatchObject({ priority: 0, tries: 0 });

      expect(JSON.parse(await requestAsNobody(settings.controlSocket, [gid], 'check'))).toMatchObject({ id: 1, ok: true });
      for (let i = 0; i < 1200 && !lab.events.some((e) => e.eventtype === 800 && e.eventresult === 1); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await lab.slots()).find((s) => s.partition === 4)).toMatchObject({ priority: 2, tries: 1 });
    } finally {
      stop.abort(new UpdateEngineError('ERR_ABORTED', 'test done'));
      await daemon.catch(() => undefined);
    }
  });
});
