import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { cgptAttributes, createOwnImage, fingerprint, sgdiskVerify, tempDir } from '../helpers/disk-image.ts';
import { listUsrSlots } from '../../src/slots/slot-operations.ts';

const tmp = tempDir('ue-slots-cli-');
afterAll(tmp.cleanup);
let n = 0;
async function image(ss: 512 | 4096 = 512): Promise<string> {
  const path = join(tmp.dir, `d${n++}.img`);
  await createOwnImage(path, { sectorSizeBytes: ss });
  return path;
}

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0] ?? '';
}

describe('update-engine slots', () => {
  it('has --help, and exits 2 without a subcommand', async () => {
    const [help, sub, none] = await Promise.all([
      runCli('update-engine', ['slots', '--help']),
      runCli('update-engine', ['slots', 'show', '--help']),
      runCli('update-engine', ['slots']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: update-engine slots show --disk DISK [--json]');
    expect(help.stdout).toContain('update-engine slots mark-good --disk DISK --partition N');
    expect(sub.code).toBe(0);
    expect(none.code).toBe(2);
  });

  it('shows the slots as a table and as the JSON of the contract', async () => {
    const disk = await image(4096);
    const [text, json] = await Promise.all([
      runCli('update-engine', ['slots', 'show', '--disk', disk]),
      runCli('update-engine', ['slots', 'show', '--disk', disk, '--json']),
    ]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PART\s+LABEL\s+PRIORITY\s+TRIES\s+SUCCESSFUL\s+FIRST_LBA\s+LAST_LBA\s+UUID$/);
    expect(lines[1]).toMatch(/^3\s+USR-A\s+1\s+0\s+yes\s+\d+\s+\d+\s+[0-9a-f-]{36}$/);
    expect(lines[2]).toMatch(/^4\s+USR-B\s+0\s+0\s+no\s+/);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    const slots = (await listUsrSlots(disk)).usrSlots;
    expect(parsed).toEqual(
      slots.map((s) => ({
        partition: s.partition,
        label: s.label,
        priority: s.priority,
        tries: s.tries,
        successful: s.successful,
        uuid: s.uuid,
        firstLba: s.firstLba,
        lastLba: s.lastLba,
      })),
    );
    expect(Object.keys(parsed[0] ?? {})).toEqual(['partition', 'label', 'priority', 'tries', 'successful', 'uuid', 'firstLba', 'lastLba']);
  });

  it('prioritizes and marks good as cgpt sees it, sgdisk -v clean', async () => {
    const disk = await image();
    const p = await runCli('update-engine', ['slots', 'prepare-for-try', '--disk', disk, '--partition', '4']);
    expect(p.code).toBe(0);
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 2, tries: 1, successful: 0 });
    const g = await runCli('update-engine', ['slots', 'mark-good', '--disk', disk, '--partition', '4']);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/^4\s+USR-B\s+2\s+0\s+yes/m);
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 2, tries: 0, successful: 1 });
    const r = await runCli('update-engine', ['slots', 'prioritize', '--disk', disk, '--partition', '3']);
    expect(r.code).toBe(0);
    expect(cgptAttributes(disk, 3)).toEqual({ priority: 2, tries: 0, successful: 1 });
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 1, tries: 0, successful: 1 });
    const d = await runCli('update-engine', ['slots', 'disable', '--disk', disk, '--partition', '4']);
    expect(d.code).toBe(0);
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 0, tries: 0, successful: 0 });
    expect(sgdiskVerify(disk)).toMatchObject({ ok: true });
  });

  it('says what is wrong in one line, exits non-zero, and leaves the disk unchanged', async () => {
    const disk = await image();
    const plain = join(tmp.dir, 'plain.img');
    writeFileSync(plain, Buffer.alloc(1024 * 1024, 7));
    const before = { disk: fingerprint(disk), plain: fingerprint(plain) };
    const cases: Array<[string[], number, string | RegExp]> = [
      [
        ['slots', 'mark-good', '--disk', plain, '--partition', '3'],
        5,
        `update-engine: "${plain}" is not a GPT disk: no "EFI PART" header at LBA 1 or at LBA 2047 (sector size 512)`,
      ],
      [
        ['slots', 'prioritize', '--disk', disk, '--partition', '129'],
        5,
        `update-engine: Partition 129 is out of range on "${disk}" (its GPT has partitions 1..128)`,
      ],
      [
        ['slots', 'mark-good', '--disk', disk, '--partition', '9'],
        5,
        /^update-engine: Partition 9 \("ROOT"\) on ".*" is not a USR slot: its type is 3884dd41-8582-4404-b9a8-e9b84f2df50e, not 5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6$/,
      ],
      [['slots', 'prioritize', '--disk', disk, '--partition', '7'], 5, `update-engine: Partition 7 does not exist on "${disk}"`],
      [['slots', 'prioritize', '--disk', disk, '--partition', 'B'], 2, 'update-engine: --partition must be a positive whole number, got "B"'],
      [['slots', 'prioritize', '--disk', disk], 2, 'update-engine: slots prioritize needs --partition N'],
      [['slots', 'show'], 2, 'update-engine: slots show needs --disk DISK'],
      [['slots', 'flip', '--disk', disk], 2, /^update-engine: Unknown slots command "flip"/],
      [['slots', 'show', '--disk', join(tmp.dir, 'none.img')], 5, `update-engine: Cannot open disk "${join(tmp.dir, 'none.img')}": no such file or device`],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli('update-engine', args)));
    for (const [i, [args, code, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stdout).toBe('');
      const line = oneLine(r.stderr);
      if (typeof message === 'string') expect(line).toBe(message);
      else expect(line).toMatch(message);
    }
    expect({ disk: fingerprint(disk), plain: fingerprint(plain) }).toEqual(before);
  });

  it('warns about a damaged copy on show, and repairs it on request', async () => {
    const disk = await image();
    const fd = openSync(disk, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 512 + 30);
    writeSync(fd, Buffer.from([(b[0] ?? 0) ^ 1]), 0, 1, 512 + 30);
    closeSync(fd);
    const show = await runCli('update-engine', ['slots', 'show', '--disk', disk, '--json']);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toHaveLength(2);
    expect(show.stderr).toMatch(
      /^warning: the primary GPT at LBA 1 is damaged: header CRC32 .*; the next change repairs it \(or run 'update-engine slots repair'\)\n$/,
    );
    const repair = await runCli('update-engine', ['slots', 'repair', '--disk', disk]);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/^Repaired ".*": the primary GPT at LBA 1 is damaged/);
    expect(sgdiskVerify(disk)).toMatchObject({ ok: true });
    const again = await runCli('update-engine', ['slots', 'repair', '--disk', disk]);
    expect(again.stdout).toContain('is intact; nothing to repair');
  });
});
