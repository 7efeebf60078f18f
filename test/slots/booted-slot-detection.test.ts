// Booted/passive slot detection: settings, kernel command line, /usr mount, device-mapper; fake and real sysfs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectBootedSlot, type SlotDetectPaths } from '../../src/slots/booted-slot-detection.ts';
import type { DiskImage } from '../../src/slots/disk-image.ts';
import { createOwnImage, makeFakeSystem, tempDir } from '../helpers/disk-image.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
let image: DiskImage;
let paths: SlotDetectPaths;
let fakeDisk: string;
const AB = { slotAPartition: 3, slotBPartition: 4 };
const uuid = (p: number): string => image.partitions.find((x) => x.partition === p)?.uuid ?? '';

beforeAll(async () => {
  image = await createOwnImage(join(tmp.dir, 'disk.img'));
  paths = makeFakeSystem(join(tmp.dir, 'root'), image.path, [1, 2, 3, 4, 9]);
  fakeDisk = join(paths.dev, 'fakedisk');
});

function system(cmdline: string, mounts = '/dev/fakedisk9 / ext4 rw 0 0\n'): SlotDetectPaths {
  writeFileSync(paths.procCmdline, `${cmdline}\n`);
  writeFileSync(paths.procMounts, mounts);
  return paths;
}

describe('booted slot detection', () => {
  it('uses BOOTED_PARTITION and DISK without looking at the system', async () => {
    const r = await detectBootedSlot({ ...AB, disk: '/dev/vdz', bootedPartition: 4, paths: { procCmdline: '/nonexistent', procMounts: '/nonexistent' } });
    expect(r).toEqual({ disk: '/dev/vdz', bootedPartition: 4, passivePartition: 3, source: 'BOOTED_PARTITION' });
  });

  it('refuses a BOOTED_PARTITION that is not a slot', async () => {
    await expect(detectBootedSlot({ ...AB, disk: '/dev/vdz', bootedPartition: 9 })).rejects.toMatchObject({
      code: 'ERR_SLOT_DETECT',
      message: 'BOOTED_PARTITION=9 is neither slot A (3) nor slot B (4)',
    });
  });

  it('finds mount.usr=PARTLABEL=USR-B (the grubenv and bls boot configurations pass it)', async () => {
    const r = await detectBootedSlot({ ...AB, paths: system('mount.usr=PARTLABEL=USR-B ue.slot=B console=ttyS0') });
    expect(r).toEqual({ disk: fakeDisk, bootedPartition: 4, passivePartition: 3, source: 'kernel command line mount.usr=PARTLABEL=USR-B' });
    await expect(detectBootedSlot({ ...AB, paths: system('mount.usr=PARTLABEL=USR-X') })).rejects.toThrow(/no GPT disk in .* has that PARTLABEL/);
  });

  it('finds mount.usr=PARTUUID=... on the disks sysfs lists', async () => {
    const r = await detectBootedSlot({ ...AB, paths: system(`quiet mount.usr=PARTUUID=${uuid(4).toUpperCase()} rw`) });
    expect(r).toEqual({ disk: fakeDisk, bootedPartition: 4, passivePartition: 3, source: `kernel command line mount.usr=PARTUUID=${uuid(4).toUpperCase()}` });
  });

  it('looks a PARTUUID up on DISK (an image file) when DISK is set', async () => {
    const r = await detectBootedSlot({ ...AB, disk: image.path, paths: system(`usr=PARTUUID=${uuid(3)}`) });
    expect(r).toMatchObject({ disk: image.path, bootedPartition: 3, passivePartition: 4 });
  });

  it('maps usr=/dev/<partition> through sysfs to its disk and number', async () => {
    expect(await detectBootedSlot({ ...AB, paths: system('usr=/dev/fakedisk3') })).toMatchObject({ disk: fakeDisk, bootedPartition: 3, passivePartition: 4 });
  });

  it('follows device-mapper (mount.usr=/dev/mapper/usr, verity) to the partition below', async () => {
    expect(await detectBootedSlot({ ...AB, paths: system('mount.usr=/dev/mapper/usr verity.usr=LABEL=nope') })).toMatchObject({
      disk: fakeDisk,
      bootedPartition: 4,
      source: 'kernel command line mount.usr=/dev/mapper/usr',
    });
  });

  it('skips root= when it names ROOT, and falls back to the device mounted at /usr', async () => {
    const r = await detectBootedSlot({ ...AB, paths: system(`root=PARTUUID=${uuid(9)}`, '/dev/fakedisk9 / ext4 rw 0 0\n/dev/fakedisk4 /usr ext4 ro 0 0\n') });
    expect(r).toMatchObject({ disk: fakeDisk, bootedPartition: 4, passivePartition: 3 });
    expect(r.source).toMatch(/^\/dev\/fakedisk4 mounted at \/usr/);
  });

  it('takes only the disk from the system when BOOTED_PARTITION is set without DISK', async () => {
    expect(await detectBootedSlot({ ...AB, bootedPartition: 3, paths: system('usr=/dev/fakedisk4') })).toMatchObject({
      disk: fakeDisk,
      bootedPartition: 3,
      passivePartition: 4,
    });
  });

  it('says everything it tried when nothing names the booted slot', async () => {
    const err = await detectBootedSlot({
      ...AB,
      disk: '/dev/sdq',
      paths: system(`usr=/dev/fakedisk3 root=PARTUUID=00000000-0000-4000-8000-000000000000 mount.usr=LABEL=USR`),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SLOT_DETECT' });
    const message = (err as Error).message;
    expect(message).toMatch(/^Cannot find the booted \/usr slot: /);
    expect(message).toContain('kernel command line mount.usr=LABEL=USR: unsupported (only PARTUUID=, PARTLABEL= and device paths are understood)');
    expect(message).toContain(`kernel command line usr=/dev/fakedisk3: it is on ${fakeDisk}, not on DISK "/dev/sdq"`);
    expect(message).toContain('kernel command line root=PARTUUID=00000000-0000-4000-8000-000000000000: no partition has that PARTUUID on "/dev/sdq"');
    expect(message).toContain(`${paths.procMounts}: no device mounted at /usr`);
    expect(message).toMatch(/; set BOOTED_PARTITION and DISK$/);
  });

  it('says when the /proc files cannot be read', async () => {
    await expect(
      detectBootedSlot({ ...AB, paths: { ...paths, procCmdline: join(tmp.dir, 'no-cmdline'), procMounts: join(tmp.dir, 'no-mounts') } }),
    ).rejects.toThrow(
      `Cannot find the booted /usr slot: ${join(tmp.dir, 'no-cmdline')}: unreadable; ${join(tmp.dir, 'no-mounts')}: unreadable; set BOOTED_PARTITION and DISK`,
    );
  });

  it('finds a real loop device partition mounted at /usr through the real sysfs (root)', async () => {
    const path = join(tmp.dir, 'loop.img');
    await createOwnImage(path);
    await withLoopDevice(path, {}, async (loop) => {
      const mounts = join(tmp.dir, 'loop-mounts');
      writeFileSync(mounts, `${loop.partitionPath(4)} /usr ext4 ro 0 0\n`);
      const r = await detectBootedSlot({ ...AB, paths: { procCmdline: join(tmp.dir, 'empty-cmdline'), procMounts: mounts } });
      expect(r).toMatchObject({ disk: loop.path, bootedPartition: 4, passivePartition: 3 });
      // and with DISK set to the loop device
      expect(await detectBootedSlot({ ...AB, disk: loop.path, paths: { procCmdline: join(tmp.dir, 'empty-cmdline'), procMounts: mounts } })).toMatchObject({
        bootedPartition: 4,
      });
    });
  });
});
