import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHealthGate, type HealthGateOptions } from '../../src/reboot/health-gate.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

const dir = mkdtempSync(join(tmpdir(), 'ue-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A check that fails until its `passOn`-th run; each run appends a line to its count file. */
function flakyCheck(name: string, passOn: number): { command: string; runs: () => number } {
  const path = join(dir, name);
  const count = `${path}.count`;
  writeFileSync(count, '');
  writeFileSync(path, `#!/bin/sh\necho run >> "${count}"\nn=$(wc -l < "${count}")\n[ "$n" -ge ${passOn} ] || { echo "not ready ($n)" >&2; exit 1; }\n`);
  chmodSync(path, 0o755);
  return { command: path, runs: () => readFileSync(count, 'utf8').split('\n').filter(Boolean).length };
}

/** Runs the gate with a fake clock, moving time on whenever the gate sleeps. */
async function drive(options: Omit<HealthGateOptions, 'clock'>, clock = new FakeClock()): Promise<{ passed: boolean; sleeps: number[] }> {
  let settled = false;
  const run = runHealthGate({ ...options, clock }).finally(() => (settled = true));
  while (!settled) {
    if (!(await clock.runNext())) await new Promise((r) => setTimeout(r, 5));
  }
  return { passed: await run, sleeps: clock.sleepLog };
}

describe('runHealthGate', () => {
  it('passes at once without a HEALTH_CHECK', async () => {
    expect(await drive({ command: undefined, timeoutMs: 1000 })).toEqual({ passed: true, sleeps: [] });
    expect(await drive({ command: '   ', timeoutMs: 1000 })).toEqual({ passed: true, sleeps: [] });
  });

  it('retries a failing check until it passes', async () => {
    const check = flakyCheck('third-time', 3);
    expect(await drive({ command: check.command, timeoutMs: 600_000, retryIntervalMs: 10_000 })).toEqual({ passed: true, sleeps: [10_000, 10_000] });
    expect(check.runs()).toBe(3);
  });

  it('gives up when HEALTH_TIMEOUT has passed, with a last try at the deadline', async () => {
    const check = flakyCheck('never', 1_000_000);
    expect(await drive({ command: check.command, timeoutMs: 25_000, retryIntervalMs: 10_000 })).toEqual({ passed: false, sleeps: [10_000, 10_000, 5000] });
    expect(check.runs()).toBe(4);
  });

  it('passes arguments without a shell and counts a missing program as a failed attempt', async () => {
    expect((await drive({ command: 'test 1 -eq 1', timeoutMs: 1000 })).passed).toBe(true);
    expect((await drive({ command: 'test $(id) = x', timeoutMs: 0 })).passed).toBe(false);
    expect(await drive({ command: '/nonexistent/check', timeoutMs: 20_000, retryIntervalMs: 10_000 })).toEqual({ passed: false, sleeps: [10_000, 10_000] });
  });

  it('stops when aborted', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const check = flakyCheck('aborted', 1_000_000);
    const run = runHealthGate({ command: check.command, timeoutMs: 600_000, clock, signal: ac.signal });
    while (clock.pendingSleeps === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort(new Error('shutdown'));
    await expect(run).rejects.toThrow('shutdown');
    expect(check.runs()).toBe(1);
  });
});
