// Doctor checks of the post-install step: the EFI system partition is found (mounted, or on DISK
// to be mounted by the step) and writable, and KERNEL_DIR holds the running slot's kernel.

import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Settings } from '../config/schema.ts';
import { findEspPartition, isEspFsType, mountHolding } from '../install/esp.ts';
import { slotLetter } from '../daemon/actions/install-action.ts';
import { detectBootedSlot, type SlotDetectPaths } from '../slots/index.ts';
import { fail, ok, warn, type DoctorResult } from './doctor-result.ts';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Writes and removes a small file in `dir`: the honest test that the step can write there. */
async function probeWrite(dir: string): Promise<string | undefined> {
  const probe = join(dir, '.update-engine-doctor');
  try {
    await writeFile(probe, 'doctor\n');
    await unlink(probe);
    return undefined;
  } catch (e) {
    return message(e);
  }
}

export async function checkEsp(settings: Settings, paths?: Partial<SlotDetectPaths>, mountinfoPath = '/proc/self/mountinfo'): Promise<DoctorResult[]> {
  const dir = settings.kernelDir;
  let disk: string | undefined = settings.disk;
  let booted: number | undefined;
  try {
    const detected = await detectBootedSlot({
      disk: settings.disk,
      bootedPartition: settings.bootedPartition,
      slotAPartition: settings.slotAPartition,
      slotBPartition: settings.slotBPartition,
      paths,
    });
    disk = detected.disk;
    booted = detected.bootedPartition;
  } catch {
    // the slots check reports this
  }
  const results: DoctorResult[] = [];
  const mount = mountHolding(await readFile(mountinfoPath, 'utf8').catch(() => ''), dir);
  const dirExists = (await stat(dir).catch(() => undefined))?.isDirectory() === true;
  if (mount && isEspFsType(mount.fsType)) {
    if (!dirExists) {
      const problem = await probeWrite(mount.mountPoint);
      results.push(
        problem
          ? fail(
              'ESP',
              `mounted at "${mount.mountPoint}" (${mount.fsType}, ${mount.source}) but not writable: ${problem}`,
              "mount the ESP read-write: the post-install step writes the new slot's kernel there",
            )
          : warn(
              'ESP',
              `mounted at "${mount.mountPoint}" (${mount.fsType}) and writable; KERNEL_DIR "${dir}" does not exist yet (the step creates it)`,
              'check KERNEL_DIR: GRUB must load the kernels from there',
            ),
      );
    } else {
      const problem = await probeWrite(dir);
      results.push(
        problem
          ? fail(
              'ESP',
              `KERNEL_DIR "${dir}" on "${mount.mountPoint}" (${mount.fsType}) is not writable: ${problem}`,
              "mount the ESP read-write: the post-install step writes the new slot's kernel there",
            )
          : ok('ESP', `mounted at "${mount.mountPoint}" (${mount.fsType}, ${mount.source}); KERNEL_DIR "${dir}" is writable`),
      );
    }
  } else {
    const esp = disk === undefined ? undefined : await findEspPartition(disk).catch(() => undefined);
    if (esp) {
      results.push(
        warn(
          'ESP',
          `not mounted: partition ${esp.partition} of "${disk}" has the ESP type; the post-install step mounts it at "${dirname(dir)}" when an update carries a kernel`,
          `mount it at "${dirname(dir)}" (vfat) to let doctor check it, or set KERNEL_DIR to where it is mounted`,
        ),
      );
    } else {
      results.push(
        warn(
          'ESP',
          `no EFI system partition on ${disk === undefined ? 'the disk' : `"${disk}"`} and KERNEL_DIR "${dir}" is on ${mount ? `"${mount.mountPoint}" (${mount.fsType})` : 'no known mount'}: kernels would go to a plain directory`,
          'set KERNEL_DIR to a directory on the mounted ESP (Flatcar: /boot/flatcar)',
        ),
      );
    }
  }
  if (booted !== undefined && dirExists) {
    let letter: 'a' | 'b' | undefined;
    try {
      letter = slotLetter(booted, '', settings);
    } catch {
      letter = undefined;
    }
    if (letter) {
      const kernel = join(dir, `vmlinuz-${letter}`);
      const info = await stat(kernel).catch(() => undefined);
      results.push(
        info?.isFile()
          ? ok('kernel', `"${kernel}" holds the running slot's kernel (${info.size} bytes)`)
          : warn(
              'kernel',
              `"${kernel}", the running slot's kernel, is missing`,
              `check KERNEL_DIR: the bootloader should load vmlinuz-${letter} from there for partition ${booted}`,
            ),
      );
    }
  }
  return results;
}
