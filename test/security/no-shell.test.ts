// Security review (docs/security.md, "No shell"): the only place that starts programs is
// src/platform/exec.ts, with shell: false; REBOOT_COMMAND and HEALTH_CHECK reach it split on white
// space, so shell syntax in a setting is passed along as plain arguments and never runs.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHealthGate } from '../../src/reboot/health-gate.ts';
import { CommandRebooter } from '../../src/reboot/rebooter.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger, silentLogger } from '../../src/platform/logger.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-noshell-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A command setting whose program records its argv in `out`, followed by shell syntax that would touch markers. */
function hostileCommand(out: string): { command: string; markers: string[]; tail: string[] } {
  const markers = ['m1', 'm2', 'm3', 'm4', 'm5'].map((m) => join(dir, m));
  const tail = [
    ';touch',
    markers[0],
    '$(touch',
    `${markers[1]})`,
    `\`touch`,
    `${markers[2]}\``,
    '|touch',
    markers[3],
    '&&',
    'touch',
    markers[4],
    '>',
    join(dir, 'redirected'),
  ] as string[];
  const script = "require('fs').writeFileSync(process.argv[1],JSON.stringify(process.argv.slice(2)))";
  return { command: [process.execPath, '-e', script, out, ...tail].join(' '), markers, tail };
}

function expectNoShell(out: string, markers: string[], tail: string[]): void {
  expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(tail);
  for (const m of [...markers, join(dir, 'redirected')]) expect(existsSync(m), `${m} exists: a shell ran`).toBe(false);
}

describe('settings that become commands run without a shell', () => {
  it('REBOOT_COMMAND: shell syntax arrives as plain arguments', async () => {
    const out = join(dir, 'reboot-argv.json');
    const { command, markers, tail } = hostileCommand(out);
    await new CommandRebooter({ command, logger: silentLogger(), wallArgv: null }).reboot('security test');
    expectNoShell(out, markers, tail);
  });

  it('HEALTH_CHECK: shell syntax arrives as plain arguments', async () => {
    const out = join(dir, 'health-argv.json');
    const { command, markers, tail } = hostileCommand(out);
    const log = new PassThrough();
    const lines: string[] = [];
    log.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    // A timeout under a minute once reached spawn as a fraction of a millisecond, and every attempt failed.
    const passed = await runHealthGate({
      command,
      timeoutMs: 10_000,
      retryIntervalMs: 60_000,
      clock: systemClock,
      logger: createLogger({ level: 'debug', pretty: false, destination: log }),
    });
    expect(passed).toBe(true);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['Health check passed']);
    expectNoShell(out, markers, tail);
  });
});

/** Every .ts file under src/. */
function sourceFiles(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('where programs are started', () => {
  it('only src/platform/exec.ts imports node:child_process, and it spawns with shell: false', () => {
    const files = sourceFiles(join(REPO_ROOT, 'src'));
    const importers = files.filter((f) => /from ['"](node:)?child_process['"]|require\(['"](node:)?child_process['"]\)/.test(readFileSync(f, 'utf8')));
    expect(importers.map((f) => relative(REPO_ROOT, f))).toEqual(['src/platform/exec.ts']);
    const exec = readFileSync(join(REPO_ROOT, 'src/platform/exec.ts'), 'utf8');
    expect(exec).toMatch(/spawn\(file, args, \{\s*shell: false,/);
    expect(exec).not.toMatch(/\bexec(Sync)?\(|execFile|shell: true/);
  });
});
