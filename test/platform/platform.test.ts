import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMachineIdentity, readOsRelease } from '../../src/platform/identity.ts';
import { execArgv, splitCommand } from '../../src/platform/exec.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { Writable } from 'node:stream';

describe('machine identity', () => {
  it('reads machine-id, boot id (in braces) and os-release from injected paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ue-id-'));
    writeFileSync(join(dir, 'machine-id'), 'DBFF85B41AE14F41BDE761EEFBDAFAAC\n');
    writeFileSync(join(dir, 'boot_id'), '0c288430-2504-4db4-913a-8c3de52afd07\n');
    writeFileSync(join(dir, 'os-release'), 'ID=flatcar\nVERSION_ID="3602.2.3"\n');
    const id = await readMachineIdentity({ machineId: join(dir, 'machine-id'), bootId: join(dir, 'boot_id'), osRelease: join(dir, 'os-release') });
    expect(id).toEqual({ machineId: 'dbff85b41ae14f41bde761eefbdafaac', bootId: '{0c288430-2504-4db4-913a-8c3de52afd07}', missing: [] });
    expect((await readOsRelease({ osRelease: join(dir, 'os-release') })).get('VERSION_ID')).toBe('3602.2.3');
  });
  it('reports missing files instead of throwing', async () => {
    const id = await readMachineIdentity({ machineId: '/nonexistent/a', bootId: '/nonexistent/b', osRelease: '/nonexistent/c' });
    expect(id.missing).toEqual(['/nonexistent/a', '/nonexistent/b']);
  });
});

describe('exec', () => {
  it('splits commands on white space only (no shell, no quoting)', () => {
    expect(splitCommand('  systemctl   reboot ')).toEqual(['systemctl', 'reboot']);
    expect(splitCommand('echo "$(rm -rf /)"')).toEqual(['echo', '"$(rm', '-rf', '/)"']);
  });
  it('runs argv without a shell: metacharacters reach the program literally', async () => {
    const r = await execArgv(['printf', '%s|', 'a;b', '$(id)', '`x`']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('a;b|$(id)|`x`|');
  });
  it('reports a non-zero exit without throwing', async () => {
    expect((await execArgv(['false'])).exitCode).toBe(1);
  });
  it('rejects a missing program', async () => {
    await expect(execArgv(['/nonexistent/program'])).rejects.toThrow(/ENOENT/);
  });
});

describe('clock and logger', () => {
  it('sleeps and can be aborted', async () => {
    const t0 = systemClock.monotonicMs();
    await systemClock.sleep(20);
    expect(systemClock.monotonicMs() - t0).toBeGreaterThanOrEqual(15);
    const ac = new AbortController();
    const p = systemClock.sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
  it('writes JSON lines and redacts passwords', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ destination: sink, pretty: false });
    log.info({ password: 'hunter2', phase: 'download' }, 'started');
    const rec = JSON.parse(lines[0] as string);
    expect(rec.msg).toBe('started');
    expect(rec.phase).toBe('download');
    expect(rec.password).toBe('[redacted]');
  });
});
