// sysfs mapping of devices to partitions and disks: a fake tree, and real loop devices as root.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelNameOf, listWholeDisks, partitionOf, underDev } from '../../src/slots/block-device-sysfs.ts';
import { createOwnImage, makeFakeSystem, tempDir } from '../helpers/disk-image.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('sysfs block devices', () => {
  const image = join(tmp.dir, 'disk.img');
  const paths = makeFakeSystem(join(tmp.dir, 'root'), image, [3, 4]);

  it('maps /dev paths into the injected device directory', () => {
    expect(underDev('/dev/vda3', paths)).toBe(join(paths.dev, 'vda3'));
    expect(underDev('/srv/disk.img', paths)).toBe('/srv/disk.img');
  });

  it('resolves symlinks to kernel names', async () => {
    expect(await kernelNameOf('/dev/mapper/usr', paths)).toBe('dm-0');
    expect(await kernelNameOf('/dev/fakedisk3', paths)).toBe('fakedisk3');
    expect(await kernelNameOf('/dev/nothing', paths)).toBeUndefined();
  });

  it('finds a partition number and its disk, directly and below device-mapper', async () => {
    expect(await partitionOf('fakedisk3', paths)).toEqual({ name: 'fakedisk3', partition: 3, diskName: 'fakedisk', diskPath: join(paths.dev, 'fakedisk') });
    expect(await partitionOf('dm-0', paths)).toMatchObject({ name: 'fakedisk4', partition: 4, diskName: 'fakedisk' });
    expect(await partitionOf('fakedisk', paths)).toBeUndefined();
    expect(await partitionOf('missing', paths)).toBeUndefined();
  });

  it('guesses the disk from the name when sysfs has no parent directory', async () => {
    mkdirSync(join(paths.sysBlock, 'nvme0n1p7'));
    writeFileSync(join(paths.sysBlock, 'nvme0n1p7', 'partition'), '7\n');
    expect(await partitionOf('nvme0n1p7', paths)).toMatchObject({ partition: 7, diskName: 'nvme0n1' });
  });

  it('lists the whole disks', async () => {
    expect(await listWholeDisks(paths)).toEqual(['dm-0', 'fakedisk']);
  });

  it('reads the real sysfs of a loop device (root)', async () => {
    const path = join(tmp.dir, 'loop.img');
    await createOwnImage(path);
    await withLoopDevice(path, {}, async (loop) => {
      const real = { sysBlock: '/sys/class/block', dev: '/dev' };
      expect(await kernelNameOf(loop.partitionPath(3), real)).toBe(`${loop.name}p3`);
      expect(await partitionOf(`${loop.name}p3`, real)).toEqual({ name: `${loop.name}p3`, partition: 3, diskName: loop.name, diskPath: loop.path });
      expect(await listWholeDisks(real)).toContain(loop.name);
    });
  });
});
