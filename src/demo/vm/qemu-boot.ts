// One boot of the VM: QEMU (TCG) with OVMF, the disk image as a virtio disk, the serial console to
// a file, no network. The initramfs prints "UE-BOOTED slot=X label=USR-X device=... version=V" and
// powers off; the boot's serial output is appended to the lab's serial log.

import { spawnArgv } from '../../platform/exec.ts';
import { accessSync, constants } from 'node:fs';
import { appendFile, copyFile, readFile, rename, rm, stat } from 'node:fs/promises';
import { UpdateEngineError } from '../../errors.ts';
import { join } from 'node:path';
import { VM_CACHE_DIR, type VmAssets } from './vm-assets.ts';

/**
 * The accelerators QEMU tries in order: TCG (software emulation) by default; KVM first, then TCG, when
 * UPDATE_ENGINE_VM_KVM=1 and /dev/kvm can be opened. Not KVM by default: on the development machine
 * /dev/kvm exists and QEMU starts KVM on it, but the guest never boots (nested virtualisation).
 */
export function qemuAccelerators(env: NodeJS.ProcessEnv = process.env, kvmDevice = '/dev/kvm'): Array<'kvm' | 'tcg'> {
  if (env.UPDATE_ENGINE_VM_KVM !== '1') return ['tcg'];
  try {
    accessSync(kvmDevice, constants.R_OK | constants.W_OK);
    return ['kvm', 'tcg'];
  } catch {
    return ['tcg'];
  }
}
export interface VmBootResult {
  /** The slot letter from the kernel command line the bootloader passed. */
  slot: string;
  label: string;
  device: string;
  /** What the booted slot's file system says. */
  version: string;
  /** systemd-boot's LoaderEntrySelected as the booted kernel sees it ("none" under GRUB). */
  entry: string;
  durationMs: number;
}

export interface VmBootOptions {
  disk: string;
  /** The machine's UEFI variable store (created from OVMF's template when missing). */
  varsFile: string;
  /** The whole serial log, appended to. */
  serialLog: string;
  /** A title for this boot in the log. */
  title: string;
  timeoutMs?: number;
}

const LINE = /UE-BOOTED slot=(\S*) label=(\S*) device=(\S*) version=(\S*)(?: entry=(\S*))?/;

/** Boots once; resolves with what the initramfs reported, rejects when nothing booted in time. */
export async function bootVm(assets: VmAssets, o: VmBootOptions): Promise<VmBootResult> {
  const fresh = !(await stat(o.varsFile).then(
    () => true,
    () => false,
  ));
  // OVMF's first boot on an empty variable store takes twice as long (it builds the store and the boot
  // options); a store kept from an earlier lab's first boot starts the next lab warm.
  const warm = join(VM_CACHE_DIR, 'efivars-warm.fd');
  if (fresh)
    await copyFile(
      (await stat(warm).then(
        () => true,
        () => false,
      ))
        ? warm
        : assets.ovmfVars,
      o.varsFile,
    );
  const bootLog = `${o.serialLog}.boot`;
  await rm(bootLog, { force: true });
  const args = [
    '-machine',
    'q35',
    ...qemuAccelerators().flatMap((a) => ['-accel', a]),
    '-m',
    '256',
    '-smp',
    '1',
    '-display',
    'none',
    '-no-reboot',
    '-nodefaults',
    '-net',
    'none',
    '-serial',
    `file:${bootLog}`,
    '-drive',
    `if=pflash,format=raw,readonly=on,file=${assets.ovmfCode}`,
    '-drive',
    `if=pflash,format=raw,file=${o.varsFile}`,
    '-drive',
    `file=${o.disk},format=raw,if=virtio`,
  ];
  const started = performance.now();
  const timeoutMs = o.timeoutMs ?? 120_000;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawnArgv(['qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new UpdateEngineError('ERR_CONFIG_MISSING', `Cannot start qemu-system-x86_64 (Debian package qemu-system-x86): ${e.message}`));
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      if (c !== 0 && stderr) void appendFile(o.serialLog, `qemu: ${stderr}\n`);
      resolve(c);
    });
  });
  const durationMs = performance.now() - started;
  const serial = await readFile(bootLog, 'utf8').catch(() => '');
  await appendFile(o.serialLog, `\n===== ${o.title} (${(durationMs / 1000).toFixed(1)} s) =====\n${serial}\n`);
  await rm(bootLog, { force: true });
  const m = LINE.exec(serial);
  if (!m) {
    const why = code === null ? `no answer within ${Math.round(timeoutMs / 1000)} s` : `QEMU exited ${code}`;
    throw new UpdateEngineError('ERR_NO_BOOTABLE_SLOT', `The VM booted no slot (${why}); see ${o.serialLog}`);
  }
  if (
    fresh &&
    !(await stat(warm).then(
      () => true,
      () => false,
    ))
  ) {
    const temp = `${warm}.tmp-${process.pid}`;
    await copyFile(o.varsFile, temp)
      .then(() => rename(temp, warm))
      .catch(() => undefined);
  }
  return { slot: m[1] ?? '', label: m[2] ?? '', device: m[3] ?? '', version: m[4] ?? '', entry: m[5] ?? 'none', durationMs };
}
