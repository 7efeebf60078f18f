import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CommandRebooter, findOnPath } from '../../src/reboot/rebooter.ts';
import { createLogger, silentLogger } from '../../src/platform/logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'ue-rebooter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An executable script: appends its name and argv (one per line) to `log`, stdin to `<log>.stdin`, then exits with `code`. */
function script(name: string, log: string, code = 0, stderr = ''): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/bin/sh\necho "${name}" >> "${log}"\nfor a in "$@"; do printf '%s\\n' "$a" >> "${log}"; done\ncat >> "${log}.stdin"\n${stderr ? `echo "${stderr}" >&2\n` : ''}exit ${code}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

function captureLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ destination: sink, pretty: false }), lines };
}

describe('CommandRebooter', () => {
  it('tells logged-in users first, then runs REBOOT_COMMAND as argv without a shell', async () => {
    const log = join(dir, 'order.log');
    const wall = script('fake-wall', log);
    const reboot = script('fake-reboot', log);
    await new CommandRebooter({ command: `${reboot}  now  $(id) ;reboot`, logger: silentLogger(), wallArgv: [wall] }).reboot('update to 3374.2.0');
    expect(readFileSync(log, 'utf8').split('\n')).toEqual(['fake-wall', 'fake-reboot', 'now', '$(id)', ';reboot', '']);
    expect(readFileSync(`${log}.stdin`, 'utf8')).toBe('update-engine: this machine reboots now: update to 3374.2.0\n');
  });

  it('finds wall on PATH by default, and reboots without it when there is none', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'path.log');
    writeFileSync(join(bin, 'wall'), `#!/bin/sh\necho wall >> "${log}"\ncat > /dev/null\n`);
    chmodSync(join(bin, 'wall'), 0o755);
    writeFileSync(join(bin, 'not-executable'), '');
    expect(await findOnPath('wall', `/nonexistent:${bin}`)).toBe(join(bin, 'wall'));
    expect(await findOnPath('not-executable', bin)).toBeUndefined();
    const reboot = script('reboot-a', log);
    await new CommandRebooter({ command: reboot, logger: silentLogger(), path: bin }).reboot('x');
    expect(readFileSync(log, 'utf8')).toBe('wall\nreboot-a\n');
    const log2 = join(dir, 'nowall.log');
    await new CommandRebooter({ command: script('reboot-b', log2), logger: silentLogger(), path: join(dir, 'empty') }).reboot('x');
    expect(readFileSync(log2, 'utf8')).toBe('reboot-b\n');
  });

  it('reboots even when wall fails, with a warning', async () => {
    const log = join(dir, 'wallfail.log');
    const { logger, lines } = captureLogger();
    await new CommandRebooter({ command: script('reboot-c', log), logger, wallArgv: [script('bad-wall', log, 1, 'wall: cannot get tty name')] }).reboot('x');
    expect(readFileSync(log, 'utf8')).toBe('bad-wall\nreboot-c\n');
    expect(lines.some((l) => l.level === 40 && l.msg === 'Cannot tell logged-in users about the reboot')).toBe(true);
  });

  it('fails with ERR_REBOOT_COMMAND, quoting the command and its error', async () => {
    const log = join(dir, 'fail.log');
    const failing = script('reboot-fails', log, 3, 'Failed to reboot: Access denied');
    await expect(new CommandRebooter({ command: `${failing} --now`, logger: silentLogger(), wallArgv: null }).reboot('x')).rejects.toMatchObject({
      code: 'ERR_REBOOT_COMMAND',
      message: `The reboot command "${failing} --now" failed with exit code 3: Failed to reboot: Access denied`,
    });
    await expect(new CommandRebooter({ command: '/nonexistent/reboot now', logger: silentLogger(), wallArgv: null }).reboot('x')).rejects.toMatchObject({
      code: 'ERR_REBOOT_COMMAND',
      message: 'Cannot run the reboot command "/nonexistent/reboot now": no such program',
    });
  });
});
