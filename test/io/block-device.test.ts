// Block device facts against real devices (root): a loop device with GPT partitions added by partx,
// the disk behind a file, a file on tmpfs (no block device), sizes from sysfs and by reading.

import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockDeviceOf, diskHolding, parseMajorMinor, probeSizeByReading, splitDevT, sysfsSizeBytes, wholeDiskOf } from '../../src/io/block-device.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { addPartitions, attachLoop, deletePartitions, detachLoop, runTool } from '../helpers/loop-device.ts';
import { mountTmpfs } from '../helpers/tmpfs.ts';

let dir: string;
let loop: string | undefined;
let partitioned = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-io-blockdev-'));
});
afterAll(async () => {
  if (loop) {
    if (partitioned) await deletePartitions(loop).catch(() => {});
    await detachLoop(loop);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('device numbers', () => {
  it('splits a dev_t the way glibc does', () => {
    expect(splitDevT(0x0700n)).toEqual({ major: 7, minor: 0 });
    expect(splitDevT(0xfe01n)).toEqual({ major: 254, minor: 1 });
    expect(splitDevT((259n << 8n) | 1n)).toEqual({ major: 259, minor: 1 });
    // minor 300 of major 8 (extended encoding): (minor & 0xff) | ((minor >> 8) << 20)
    expect(splitDevT((8n << 8n) | (300n & 0xffn) | ((300n >> 8n) << 20n))).toEqual({ major: 8, minor: 300 });
  });

  it('parses MAJ:MIN and refuses anything else', () => {
    expect(parseMajorMinor('259:3\n')).toEqual({ major: 259, minor: 3 });
    expect(() => parseMajorMinor('sda')).toThrow(/Not a MAJ:MIN/);
  });
});

describe('block devices on this machine (root)', () => {
  it('finds a loop device, its GPT partitions and the whole disk behind them', async () => {
    requireRoot('loop devices');
    requireTool('losetup');
    requireTool('sgdisk');
    requireTool('partx');
    const image = join(dir, 'disk.img');
    await writeFile(image, '');
    await truncate(image, 32 * 1024 * 1024);
    await runTool(['sgdisk', '-n', '1:2048:+8M', '-n', '2:0:+6M', image]);
    loop = await attachLoop(image);
    await addPartitions(loop);
    partitioned = true;
    const name = basename(loop);
    const whole = await blockDeviceOf(loop);
    expect(whole).toMatchObject({ major: 7, name, isPartition: false });
    expect(`${whole.major}:${whole.minor}`).toBe((await readFile(`/sys/class/block/${name}/dev`, 'utf8')).trim());
    const part = await blockDeviceOf(`${loop}p2`);
    expect(part).toMatchObject({ name: `${name}p2`, isPartition: true });
    expect(await wholeDiskOf(part)).toEqual(whole);
    expect(await diskHolding(`${loop}p2`)).toEqual(whole);
    expect(await sysfsSizeBytes(part.major, part.minor)).toBe(6 * 1024 * 1024);
    expect(await sysfsSizeBytes(whole.major, whole.minor)).toBe(32 * 1024 * 1024);
    expect(await probeSizeByReading(`${loop}p2`)).toBe(6 * 1024 * 1024);
    expect(await probeSizeByReading(loop)).toBe(32 * 1024 * 1024);
  });

  it('finds the whole disk holding a regular file', async () => {
    const file = join(dir, 'some-file');
    await writeFile(file, 'x');
    const disk = await diskHolding(file);
    expect(disk.isPartition).toBe(false);
    expect((await readFile(`/sys/class/block/${disk.name}/dev`, 'utf8')).trim()).toBe(`${disk.major}:${disk.minor}`);
    const own = splitDevT((await stat(file, { bigint: true })).dev);
    const ownDev = await blockDeviceOf(file);
    expect(ownDev).toMatchObject(own);
    // The file's device is the disk itself, or one of its partitions.
    if (ownDev.isPartition) expect((await stat(`/sys/class/block/${disk.name}/${ownDev.name}`)).isDirectory()).toBe(true);
    else expect(ownDev).toEqual(disk);
  });

  it('says so when a file is on no block device (tmpfs)', async () => {
    const mnt = join(dir, 'tmpfs');
    await mkdir(mnt);
    const tmpfs = mountTmpfs(mnt, 1024 * 1024);
    try {
      await writeFile(join(mnt, 'f'), 'x');
      await expect(diskHolding(join(mnt, 'f'))).rejects.toThrow(/is not on a block device \(device 0:\d+ is not in \/sys\/dev\/block\)/);
    } finally {
      tmpfs.unmount();
    }
  });

  it('gives no sysfs size for an unknown device, and ERR_INSTALL_DEVICE for a missing path', async () => {
    expect(await sysfsSizeBytes(7, 0, dir)).toBeUndefined();
    await expect(blockDeviceOf(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ERR_INSTALL_DEVICE' });
  });
});
