// Attacks by a busy disk (issue 14, point 6), as root on a real loop device made from the lab disk:
// the passive partition mounted (read-only, so the file system itself writes nothing), held open with
// O_EXCL by another process, or mounted as the running /usr behind a stale BOOTED_PARTITION. Each is
// refused before one byte is written, naming the device and who holds it; a free slot is written
// through its own partition node.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { assertSlotFree, parseMountinfo, partitionNodeOf } from '../../src/slots/slot-guard.ts';
import { attachLoopDevice, detachLoopDevice, type LoopDevice } from '../helpers/loop-device.ts';
import { requireTool } from '../helpers/tools.ts';
import { labDaemonOnce } from '../helpers/lab-daemon.ts';

let dir: string;
let lab: UpdateLab;
let loop: LoopDevice | undefined;
let image: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-guard-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 });
  await lab.setUp();
  image = await readFile((await lab.addPayload('2.0.0')).imagePath);
  await lab.serve();
  loop = attachLoopDevice(lab.disk);
});
afterAll(async () => {
  await lab.close();
  if (loop) detachLoopDevice(loop);
  await rm(dir, { recursive: true, force: true });
});

const partitionBytes = async (n: number, length: number) => {
  const fh = await open(loop!.partitionPath(n), 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, 0);
    return b;
  } finally {
    await fh.close();
  }
};
// The daemon may repair a stale backup GPT at start; what matters is the slots' boot bits.
const gpt = async () => Buffer.from(JSON.stringify((await lab.slots()).map((s) => [s.partition, s.priority, s.tries, s.successful])));

const daemonOnce = () => labDaemonOnce(lab, { disk: loop!.path, bootedPartition: '3' });

describe('the passive slot must be free before one byte is written (point 6)', () => {
  let before: { gpt: Buffer; slot: Buffer };
  beforeEach(async () => {
    before = { gpt: await gpt(), slot: await partitionBytes(4, 1024 * 1024) };
  });
  const unchanged = async () => {
    expect((await gpt()).equals(before.gpt)).toBe(true);
    expect((await partitionBytes(4, 1024 * 1024)).equals(before.slot)).toBe(true);
  };

  it('mounted (read-only) somewhere: refused, naming the device and the mount point; nothing written', async () => {
    requireTool('mkfs.ext4');
    execFileSync('mkfs.ext4', ['-q', '-F', loop!.partitionPath(4)], { stdio: 'ignore' });
    const mnt = join(dir, 'mnt');
    await mkdir(mnt, { recursive: true });
    execFileSync('mount', ['-o', 'ro', loop!.partitionPath(4), mnt]);
    try {
      before = { gpt: await gpt(), slot: await partitionBytes(4, 1024 * 1024) };
      expect(await daemonOnce()).toBe(
        `ERR_INSTALL_DEVICE: Passive slot "${loop!.partitionPath(4)}" (${(await partitionNodeOf(loop!.path, 4)).major}:${(await partitionNodeOf(loop!.path, 4)).minor}) is mounted at "${mnt}"; nothing was written`,
      );
      await unchanged();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('held open with O_EXCL by another process: refused, naming its pid; nothing written', async () => {
    const holder: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');fs.openSync(${JSON.stringify(loop!.partitionPath(4))},fs.constants.O_RDONLY|fs.constants.O_EXCL);console.log('held');setInterval(()=>{},1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      expect(await daemonOnce()).toMatch(
        new RegExp(
          `^ERR_INSTALL_DEVICE: Passive slot "${loop!.partitionPath(4)}" is in use by another writer \\(pid ${holder.pid} \\(node\\)\\); nothing was written$`,
        ),
      );
      await unchanged();
    } finally {
      holder.kill();
    }
  });

  it('the running /usr (a stale BOOTED_PARTITION names the other slot): refused from the mounts', async () => {
    const node = await partitionNodeOf(loop!.path, 4);
    const proc = join(dir, 'proc');
    await mkdir(join(proc, 'self'), { recursive: true });
    await writeFile(
      join(proc, 'self', 'mountinfo'),
      `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n30 22 ${node.major}:${node.minor} / /usr ro,relatime shared:2 - ext4 ${node.path} ro\n`,
    );
    await expect(assertSlotFree(node, { sysRoot: '/sys', dev: '/dev', proc })).rejects.toMatchObject({
      code: 'ERR_INSTALL_DEVICE',
      message: `Passive slot "${node.path}" (${node.major}:${node.minor}) is mounted at "/usr": it is the running system (is BOOTED_PARTITION stale?); nothing was written`,
    });
  });

  it('free: the update is written through the partition node and flips', async () => {
    expect(await daemonOnce()).toBe('0');
    expect((await partitionBytes(4, image.length)).equals(image)).toBe(true);
    expect((await lab.slots()).find((s) => s.partition === 4)).toMatchObject({ priority: 2, tries: 1 });
  });
});

describe('parseMountinfo', () => {
  it('reads device numbers, mount points (octal escapes) and sources', () => {
    expect(parseMountinfo('36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\nbroken\n')).toEqual([
      { major: 98, minor: 0, mountPoint: '/mnt/with space', source: '/dev/root' },
    ]);
  });
});
