// Attack on the slot choice (issue 14, point 7): a partition labelled USR-B but of another type (say
// a data partition someone relabelled) must never be written or flipped to: the bootloader would not
// boot it and the machine would boot-loop. The lab disk is edited with the real sgdisk.

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { readSlots } from '../../src/slots/index.ts';
import { requireTool } from '../helpers/tools.ts';
import { labDaemonOnce } from '../helpers/lab-daemon.ts';

const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
let dir: string;
let lab: UpdateLab;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-slottype-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 2 * 1024 * 1024, imageSizeBytes: 1024 * 1024 });
  await lab.setUp();
  await lab.addPayload('2.0.0');
  await lab.serve();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

const daemonOnce = (extra: Record<string, string> = {}) => labDaemonOnce(lab, extra);

describe('a slot is accepted by its type GUID, not its label (point 7)', () => {
  it('USR-B with the Linux data type: ERR_SLOT_NOT_USR naming the partition, nothing written', async () => {
    requireTool('sgdisk');
    execFileSync('sgdisk', ['--typecode=4:8300', lab.disk], { stdio: 'ignore' });
    const before = await readFile(lab.disk);
    const outcome = await daemonOnce();
    expect(outcome).toMatch(/^ERR_SLOT_NOT_USR: Partition 4 \("USR-B"\) .* its type is 0fc63daf-8483-4772-8e79-3d69d8477de4.*boot-loop/);
    expect((await readFile(lab.disk)).equals(before)).toBe(true);
  });

  it("with SLOT_TYPE set to the slots' type, the same disk updates (the setting is honoured)", async () => {
    requireTool('sgdisk');
    execFileSync('sgdisk', ['--typecode=3:8300', '--typecode=4:8300', lab.disk], { stdio: 'ignore' });
    expect(await daemonOnce({ slotType: LINUX })).toBe('0');
    const table = await readSlots(lab.disk, { slotAPartition: 3, slotBPartition: 4, slotTypeGuid: LINUX });
    expect(table.slotB).toMatchObject({ priority: 2, tries: 1, successful: false });
  });
});
