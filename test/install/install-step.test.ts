// The post-install step as root on real filesystems (mkfs.ext4 -d, mksquashfs, mkfs.erofs) in a
// slot of a GPT disk image: the kernel lands on a FAT ESP (mkfs.vfat; mounted by the step with
// fusefat, or already FUSE-mounted on a loop device) as vmlinuz-b, and /postinst runs as specified.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { omahaErrorCode, UpdateEngineError } from '../../src/errors.ts';
import { runInstallStep, type InstallStepInput } from '../../src/install/install-step.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { createDiskImage, readSlots, type Slot } from '../../src/slots/index.ts';
import { withLoopDevice } from '../helpers/loop-device.ts';
import { buildFsImage, makeEsp, makeTree, randomKernel, readEspFile, startFusefat, writeInto, type TestFs } from '../helpers/os-image.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

const MIB = 1024 * 1024;
let dir: string;
let disk: string;
let slotB: Slot;
const kernelA = randomKernel(1024 * 1024 + 17);

beforeEach(async () => {
  requireRoot('loop devices, mounts and mount namespaces');
  for (const tool of ['unshare', 'nsenter', 'setpriv', 'fusefat', 'mkfs.vfat', 'mcopy']) requireTool(tool);
  dir = await mkdtemp(join(tmpdir(), 'ue-install-'));
  disk = join(dir, 'disk.img');
  await createDiskImage(disk, { usrSizeBytes: 16 * MIB, efiSizeBytes: 40 * MIB, overwrite: true });
  slotB = (await readSlots(disk, { slotAPartition: 3, slotBPartition: 4 })).usrSlots.find((s) => s.partition === 4)!;
  await makeEsp(disk, { 'flatcar/vmlinuz-a': kernelA }, dir);
  mkdirSync(join(dir, 'boot'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a slot image made of a tree with this kernel and postinst into slot B. */
function installImage(fs: TestFs, options: { kernel?: Buffer; postinst?: string; postinstMode?: number }): void {
  const tree = join(dir, `tree-${fs}`);
  makeTree(tree, options);
  const image = join(dir, `image.${fs}`);
  buildFsImage(tree, image, fs);
  writeInto(disk, slotB.byteOffset, image);
}

function input(extra: Partial<InstallStepInput['settings']> = {}, hooks?: InstallStepInput['hooks'], onDisk = disk): InstallStepInput {
  return {
    slot: { disk: onDisk, partition: 4, byteOffset: slotB.byteOffset, byteLength: slotB.byteLength },
    letter: 'b',
    version: '2.0.0',
    settings: {
      kernelPath: '/boot/vmlinuz',
      kernelDir: join(dir, 'boot', 'flatcar'),
      postinstall: true,
      postinstallTimeoutMs: 60_000,
      runDir: join(dir, 'run'),
      ...extra,
    },
    signal: new AbortController().signal,
    logger: silentLogger(),
    ...(hooks ? { hooks } : {}),
  };
}

async function failure(p: Promise<unknown>): Promise<UpdateEngineError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UpdateEngineError);
  return e as UpdateEngineError;
}

/** No loop device is left on the disk image, and nothing is mounted below the test directory. */
function nothingLeft(): void {
  expect(execFileSync('losetup', ['-j', disk], { encoding: 'utf8' }).trim()).toBe('');
  expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
}

const ENV_POSTINST = '#!/bin/sh\necho "argv1=$1"\nenv | sort\n';

describe('the post-install step on an image file (ESP mounted by the step with fusefat)', () => {
  for (const fs of ['ext4', 'squashfs', 'erofs'] as const) {
    it(`${fs}: the kernel lands as vmlinuz-b byte-exact, vmlinuz-a is unchanged, /postinst runs with the bare environment`, async () => {
      const kernel = randomKernel(1536 * 1024 + 5);
      installImage(fs, { kernel, postinst: ENV_POSTINST });
      process.env.UE_TEST_SECRET = 'must-not-leak';
      const lines: string[] = [];
      let hostSawMount = true;
      const report = await runInstallStep(
        input(
          {},
          {
            onPostinstLine: (_s, line) => {
              lines.push(line);
              hostSawMount &&= readFileSync('/proc/self/mountinfo', 'utf8').includes(join(dir, 'run'));
            },
          },
        ),
      );
      delete process.env.UE_TEST_SECRET;
      expect(report).toMatchObject({ filesystem: fs, postinst: 'ran', kernel: { bytes: kernel.length } });
      expect((await readEspFile(disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
      expect((await readEspFile(disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
      expect(lines[0]).toMatch(/^argv1=\/dev\/loop\d+$/);
      const env = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      expect(env).toMatchObject({
        UPDATE_ENGINE_SLOT: 'B',
        UPDATE_ENGINE_NEW_VERSION: '2.0.0',
        UPDATE_ENGINE_SLOT_MOUNT: join(dir, 'run', 'postinstall', 'slot'),
        UPDATE_ENGINE_KERNEL_DIR: join(dir, 'boot', 'flatcar'),
      });
      expect(Object.keys(env).filter((k) => !/^(PATH|PWD|OLDPWD|SHLVL|_|UPDATE_ENGINE_\w+)$/.test(k))).toEqual([]);
      expect(hostSawMount).toBe(false); // the slot is mounted in the private namespace only
      nothingLeft();
    });
  }

  it('a raw image (no filesystem) skips the kernel and the postinst and leaves the ESP alone', async () => {
    writeInto(disk, slotB.byteOffset, join(__dirname, '..', '..', 'package.json'));
    const report = await runInstallStep(input());
    expect(report).toMatchObject({ filesystem: 'none', postinst: 'skipped' });
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b')).toBeUndefined();
  });

  it('POSTINSTALL=false copies the kernel but does not run /postinst', async () => {
    const kernel = randomKernel();
    installImage('squashfs', { kernel, postinst: '#!/bin/sh\nexit 1\n' });
    const report = await runInstallStep(input({ postinstall: false }));
    expect(report.postinst).toBe('disabled');
    expect((await readEspFile(disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
  });

  it('a /postinst that exits 1 is ERR_POSTINSTALL (Omaha 5): the new kernel is removed, vmlinuz-a is intact', async () => {
    installImage('ext4', { kernel: randomKernel(), postinst: '#!/bin/sh\necho about to fail\nexit 1\n' });
    const e = await failure(runInstallStep(input()));
    expect(e.code).toBe('ERR_POSTINSTALL');
    expect(e.message).toContain('exit status 1');
    expect(omahaErrorCode(e)).toBe(5);
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b')).toBeUndefined();
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b.tmp')).toBeUndefined();
    expect((await readEspFile(disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
    nothingLeft();
  });

  it('a /postinst that hangs past POSTINSTALL_TIMEOUT (ignoring SIGTERM) is killed with its children: ERR_POSTINSTALL', async () => {
    installImage('erofs', { kernel: randomKernel(), postinst: '#!/bin/sh\ntrap "" TERM\nsleep 611.25 &\nsleep 611.5\n' });
    const started = performance.now();
    const e = await failure(runInstallStep(input({ postinstallTimeoutMs: 800 })));
    expect(e.code).toBe('ERR_POSTINSTALL');
    expect(e.message).toContain('POSTINSTALL_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(10_000);
    const sleepers = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('611.');
        } catch {
          return false;
        }
      });
    expect(sleepers).toEqual([]);
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b')).toBeUndefined();
    nothingLeft();
  });

  it('cancelling the cycle (daemon shutdown) while /postinst runs ends it with ERR_ABORTED and removes the new kernel', async () => {
    installImage('squashfs', { kernel: randomKernel(), postinst: '#!/bin/sh\necho started\nsleep 612.5\n' });
    const controller = new AbortController();
    const step = runInstallStep({ ...input({}, { onPostinstLine: () => controller.abort() }), signal: controller.signal });
    const e = await failure(step);
    expect(e.code).toBe('ERR_ABORTED');
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b')).toBeUndefined();
    expect((await readEspFile(disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
    nothingLeft();
  });

  it('a /postinst that writes 10 MB to stdout succeeds; the log gets at most 1000 lines', async () => {
    installImage('squashfs', { kernel: randomKernel(), postinst: '#!/bin/sh\nyes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 10485760\n' });
    const report = await runInstallStep(input());
    expect(report.postinst).toBe('ran');
    expect(report.postinstResult?.outputBytes).toBe(10 * MIB);
    expect(report.postinstResult?.lines).toBeGreaterThan(250_000);
    expect(report.postinstResult?.linesLogged).toBe(1000);
  });

  it('a /postinst that is not executable is not run; an image without a kernel leaves the ESP alone', async () => {
    installImage('ext4', { postinst: '#!/bin/sh\nexit 1\n', postinstMode: 0o644 });
    const report = await runInstallStep(input());
    expect(report).toMatchObject({ filesystem: 'ext4', postinst: 'not-executable' });
    expect(report.kernel).toBeUndefined();
    expect(await readEspFile(disk, 'flatcar/vmlinuz-b')).toBeUndefined();
  });
});

describe('the post-install step on a btrfs slot', () => {
  it('mounts btrfs read-only (rescue=nologreplay) and copies its kernel', async () => {
    const big = join(dir, 'big.img');
    await createDiskImage(big, { usrSizeBytes: 128 * MIB, efiSizeBytes: 40 * MIB, overwrite: true });
    await makeEsp(big, { 'flatcar/vmlinuz-a': kernelA }, dir);
    const b = (await readSlots(big, { slotAPartition: 3, slotBPartition: 4 })).usrSlots.find((s) => s.partition === 4)!;
    const kernel = randomKernel();
    makeTree(join(dir, 'tree-btrfs'), { kernel, postinst: '#!/bin/sh\necho btrfs ok\n' });
    buildFsImage(join(dir, 'tree-btrfs'), join(dir, 'image.btrfs'), 'btrfs');
    writeInto(big, b.byteOffset, join(dir, 'image.btrfs'));
    const lines: string[] = [];
    const step = input({}, { onPostinstLine: (_s, l) => lines.push(l) });
    const report = await runInstallStep({ ...step, slot: { disk: big, partition: 4, byteOffset: b.byteOffset, byteLength: b.byteLength } });
    expect(report).toMatchObject({ filesystem: 'btrfs', postinst: 'ran' });
    expect(lines).toEqual(['btrfs ok']);
    expect((await readEspFile(big, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
  });
});

describe('the post-install step on a block device with the ESP FUSE-mounted by the host', () => {
  it('mounts the partition node, passes it as argv[1], and writes vmlinuz-b through the FUSE mount', async () => {
    const kernel = randomKernel(2 * MIB + 3);
    installImage('ext4', { kernel, postinst: ENV_POSTINST });
    await withLoopDevice(disk, {}, async (loop) => {
      const esp = join(dir, 'esp');
      mkdirSync(esp);
      const fuse = await startFusefat(loop.partitionPath(1), esp, ['-o', 'rw+']);
      const lines: string[] = [];
      try {
        const report = await runInstallStep(input({ kernelDir: join(esp, 'flatcar') }, { onPostinstLine: (_s, l) => lines.push(l) }, loop.path));
        expect(report.kernel?.bytes).toBe(kernel.length);
        expect(readFileSync(join(esp, 'flatcar', 'vmlinuz-b')).equals(kernel)).toBe(true);
        expect(readFileSync(join(esp, 'flatcar', 'vmlinuz-a')).equals(kernelA)).toBe(true);
        expect(existsSync(join(esp, 'flatcar', 'vmlinuz-b.tmp'))).toBe(false);
      } finally {
        await fuse.stop();
      }
      expect(lines[0]).toBe(`argv1=${loop.partitionPath(4)}`);
    });
    expect((await readEspFile(disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
  });

  it('mounts the ESP partition node itself (fusefat without a vfat driver) when KERNEL_DIR is not on a mounted ESP', async () => {
    const kernel = randomKernel(1024 * 1024 + 9);
    installImage('erofs', { kernel, postinst: '#!/bin/sh\ntrue\n' });
    await withLoopDevice(disk, {}, async (loop) => {
      const report = await runInstallStep(input({}, undefined, loop.path));
      expect(report.kernel?.bytes).toBe(kernel.length);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(loop.partitionPath(1));
    });
    expect((await readEspFile(disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
    expect((await readEspFile(disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
  });
});
