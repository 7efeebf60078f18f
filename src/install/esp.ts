// Finding the EFI system partition for the kernels: KERNEL_DIR on a mounted FAT (kernel vfat or
// FUSE) is used as is; otherwise the partition with the ESP type GUID on DISK is mounted at
// KERNEL_DIR's parent inside the step's private namespace (kernel vfat, else fusefat on a loop).

import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeGptEntries } from '../slots/gpt-entry.ts';
import { readGptTable } from '../slots/gpt-reader.ts';
import { openFsDisk } from '../slots/fs-disk.ts';
import { PARTITION_TYPE } from '../slots/disk-image.ts';
import { execArgv, spawnArgv } from '../platform/exec.ts';
import type { MountNamespace } from './mount-namespace.ts';
import { partitionNode } from './slot-mount.ts';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** The filesystem types an ESP shows up as: vfat through the kernel, or FAT through FUSE (fusefat). */
export function isEspFsType(fsType: string): boolean {
  return fsType === 'vfat' || fsType === 'msdos' || fsType === 'fuseblk' || fsType === 'fuse' || fsType.startsWith('fuse.');
}

/** The mount holding `path` in a mountinfo text: the longest mount point that contains it (pure). */
export function mountHolding(mountinfo: string, path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    const mountPoint = (f[4] ?? '').replace(/\\040/g, ' ');
    if (dash < 0 || !mountPoint) continue;
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fsType: f[dash + 1] ?? '', source: f[dash + 2] ?? '' };
  }
  return best;
}

export interface EspPartition {
  partition: number;
  byteOffset: number;
  byteLength: number;
}

/** The first partition with the ESP type GUID on the disk, or undefined. */
export async function findEspPartition(disk: string): Promise<EspPartition | undefined> {
  const d = await openFsDisk(disk);
  try {
    const table = await readGptTable(d);
    const sector = table.geometry.sectorSizeBytes;
    const esp = decodeGptEntries(table.entries, table.primary).find((e) => e.typeGuid === PARTITION_TYPE.efiSystem);
    return esp && { partition: esp.partition, byteOffset: esp.firstLba * sector, byteLength: (esp.lastLba - esp.firstLba + 1) * sector };
  } finally {
    await d.close();
  }
}

export interface EspMount {
  /** 'mounted': KERNEL_DIR was on a mounted ESP; 'ours': we mounted the ESP in the namespace; 'plain': no ESP, a plain directory. */
  kind: 'mounted' | 'ours' | 'plain';
  mountPoint: string;
  fsType: string;
  /** Undoes our mount (for kind 'ours'). */
  release(): Promise<void>;
}

/** Makes KERNEL_DIR's ESP reachable inside the namespace. */
export async function prepareEsp(ns: MountNamespace, kernelDir: string, disk: string): Promise<EspMount> {
  let held = mountHolding(await readFile('/proc/self/mountinfo', 'utf8'), kernelDir);
  if (held?.fsType === 'autofs') {
    // Flatcar mounts the ESP at /boot on first access (boot.automount): trigger it, then look again,
    // rather than mounting the same partition a second time in our namespace.
    await readdir(held.mountPoint).catch(() => []);
    held = mountHolding(await readFile('/proc/self/mountinfo', 'utf8'), kernelDir);
  }
  const none = async () => {};
  if (held && isEspFsType(held.fsType)) return { kind: 'mounted', mountPoint: held.mountPoint, fsType: held.fsType, release: none };
  const esp = await findEspPartition(disk).catch(() => undefined);
  const mountPoint = dirname(kernelDir);
  if (!esp) {
    // No ESP on DISK: KERNEL_DIR is a plain directory (e.g. /boot on the root filesystem).
    return { kind: 'plain', mountPoint: held?.mountPoint ?? '/', fsType: held?.fsType ?? 'unknown', release: none };
  }
  if (!(await stat(mountPoint).catch(() => undefined))?.isDirectory()) {
    throw new Error(`Cannot mount the EFI system partition (partition ${esp.partition} of "${disk}") at "${mountPoint}": no such directory`);
  }
  const isBlock = (await stat(disk)).isBlockDevice();
  const node = isBlock ? await partitionNode(disk, esp.partition) : undefined;
  const source = node ? [node] : ['-o', `loop,offset=${esp.byteOffset},sizelimit=${esp.byteLength}`, disk];
  try {
    await ns.run(['mount', '-t', 'vfat', '-o', 'nodev,nosuid,noexec', ...source, mountPoint], 'Cannot mount the ESP');
    return { kind: 'ours', mountPoint, fsType: 'vfat', release: () => ns.run(['umount', mountPoint], 'Cannot unmount the ESP').then(none) };
  } catch (kernelError) {
    // No vfat in this kernel: fusefat on a loop device (detached at once: the kernel frees it when fusefat closes it).
    const loop = node ?? (await losetup(disk, esp));
    try {
      return await startFusefat(ns, loop, mountPoint);
    } catch (fuseError) {
      throw new Error(`${(kernelError as Error).message}; ${(fuseError as Error).message}`);
    } finally {
      if (!node) await execArgv(['losetup', '-d', loop]);
    }
  }
}

/**
 * fusefat in the foreground as our child, inside the namespace, with PR_SET_PDEATHSIG=SIGTERM: a
 * daemonized fusefat would keep the namespace (and the slot's mount) alive after a crash and leave
 * a second writer on the ESP; this one unmounts and exits when the daemon dies.
 */
async function startFusefat(ns: MountNamespace, device: string, mountPoint: string): Promise<EspMount> {
  const argv = ns.wrap(['setpriv', '--pdeathsig', 'TERM', '--', 'fusefat', '-f', '-o', 'rw+', device, mountPoint]);
  const child = spawnArgv(argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    const info = await readFile(`/proc/${ns.pid}/mountinfo`, 'utf8');
    if (mountHolding(info, `${mountPoint}/x`)?.mountPoint === mountPoint) break;
    if (child.exitCode !== null || child.signalCode !== null || i >= 200) {
      child.kill('SIGKILL');
      throw new Error(`Cannot mount the ESP with fusefat at "${mountPoint}": ${stderr.trim() || 'it did not mount within 2 s'}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const release = async () => {
    await ns.run(['fusermount', '-u', mountPoint], 'Cannot unmount the ESP (fusefat)').catch(() => child.kill('SIGTERM'));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { kind: 'ours', mountPoint, fsType: 'fuse.fusefat', release };
}

async function losetup(disk: string, esp: EspPartition): Promise<string> {
  const r = await execArgv(['losetup', '--find', '--show', '--offset', String(esp.byteOffset), '--sizelimit', String(esp.byteLength), disk]);
  if (r.exitCode !== 0) throw new Error(`Cannot attach a loop device to the ESP of "${disk}": ${r.stderr.trim()}`);
  return r.stdout.trim();
}
