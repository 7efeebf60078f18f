import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { cgptAttributes, createOwnImage, fingerprint, tempDir } from '../helpers/disk-image.ts';
import { disableSlot, prepareForTry } from '../../src/slots/slot-operations.ts';

const tmp = tempDir('ue-bootsim-cli-');
afterAll(tmp.cleanup);
let n = 0;
async function image(ss: 512 | 4096 = 512): Promise<string> {
  const path = join(tmp.dir, `d${n++}.img`);
  await createOwnImage(path, { sectorSizeBytes: ss });
  return path;
}

describe('update-engine boot-sim', () => {
  it('has --help and needs --disk', async () => {
    const [help, none] = await Promise.all([runCli('update-engine', ['boot-sim', '--help']), runCli('update-engine', ['boot-sim'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: update-engine boot-sim --disk DISK [--json]');
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('update-engine: boot-sim needs --disk DISK');
  });

  it('prints the chosen partition, counts the try down, and falls back when it is used up', async () => {
    const disk = await image();
    await prepareForTry(disk, 4);
    const first = await runCli('update-engine', ['boot-sim', '--disk', disk, '--json']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('{"partition":4,"label":"USR-B","tries":0}\n');
    expect(cgptAttributes(disk, 4)).toEqual({ priority: 2, tries: 0, successful: 0 });
    const second = await runCli('update-engine', ['boot-sim', '--disk', disk]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('3\n');
  });

  it('works on a 4096-byte sector image', async () => {
    const disk = await image(4096);
    const r = await runCli('update-engine', ['boot-sim', '--disk', disk, '--json']);
    expect(r.stdout).toBe('{"partition":3,"label":"USR-A","tries":0}\n');
  });

  it('exits 5 with one line when no slot is bootable, and leaves the disk unchanged', async () => {
    const disk = await image();
    await disableSlot(disk, 3);
    const before = fingerprint(disk);
    const r = await runCli('update-engine', ['boot-sim', '--disk', disk]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `update-engine: No bootable slot on "${disk}": 3 "USR-A" priority=0 tries=0 successful=0, 4 "USR-B" priority=0 tries=0 successful=0\n`,
    );
    expect(fingerprint(disk)).toBe(before);
  });
});
