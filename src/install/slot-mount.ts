// Mounts the new slot read-only (ro,nodev,nosuid) inside a private mount namespace: a block
// device's partition node directly, an image file (or a disk without one) through a loop device on
// the slot's byte range, made by mount itself with autoclear, so it goes when the namespace goes.

import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SlotFilesystem } from './fs-magic.ts';
import type { MountNamespace } from './mount-namespace.ts';

export interface SlotRange {
  /** The disk or image file holding the slots. */
  disk: string;
  partition: number;
  byteOffset: number;
  byteLength: number;
}

export interface MountedSlot {
  /** Where the slot is mounted, inside the namespace. */
  mountPoint: string;
  /** The device the slot was mounted from: its partition node, or the loop device over its range. */
  device: string;
}

/** The partition node of partition `n` of a whole-disk block device, from sysfs; undefined when none. */
export async function partitionNode(disk: string, n: number, sysRoot = '/sys'): Promise<string | undefined> {
  const name = basename(await realpath(disk));
  const dir = `${sysRoot}/class/block/${name}`;
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(name)) continue;
    const number = await readFile(`${dir}/${entry}/partition`, 'utf8').catch(() => undefined);
    if (number !== undefined && Number(number.trim()) === n) return `/dev/${entry}`;
  }
  return undefined;
}

/** The source device of the mount at `mountPoint` in the namespace (from its mountinfo). */
async function mountSource(ns: MountNamespace, mountPoint: string): Promise<string | undefined> {
  const text = await readFile(`/proc/${ns.pid}/mountinfo`, 'utf8');
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (fields[4] === mountPoint && dash > 0) found = fields[dash + 2];
  }
  return found;
}

/** Mounts the slot at `mountPoint` (an existing directory) inside the namespace. */
export async function mountSlot(ns: MountNamespace, slot: SlotRange, fs: SlotFilesystem, mountPoint: string): Promise<MountedSlot> {
  const isBlock = (await stat(slot.disk)).isBlockDevice();
  const node = isBlock ? await partitionNode(slot.disk, slot.partition) : undefined;
  // The slot was verified byte for byte: nothing may write to it, not even a journal replay.
  const options = ['ro', 'nodev', 'nosuid', ...(fs === 'ext4' ? ['noload'] : fs === 'btrfs' ? ['rescue=nologreplay'] : [])];
  if (node) {
    await ns.run(['mount', '-t', fs, '-o', options.join(','), node, mountPoint], `Cannot mount slot ${slot.partition} ("${node}", ${fs})`);
    return { mountPoint, device: node };
  }
  options.push('loop', `offset=${slot.byteOffset}`, `sizelimit=${slot.byteLength}`);
  await ns.run(
    ['mount', '-t', fs, '-o', options.join(','), slot.disk, mountPoint],
    `Cannot mount slot ${slot.partition} of "${slot.disk}" (${fs}, bytes ${slot.byteOffset}+${slot.byteLength})`,
  );
  const device = (await mountSource(ns, mountPoint)) ?? slot.disk;
  return { mountPoint, device };
}

/** Unmounts inside the namespace; a busy mount is detached lazily (the namespace ends soon after anyway). */
export async function unmountSlot(ns: MountNamespace, mountPoint: string): Promise<void> {
  try {
    await ns.run(['umount', mountPoint], `Cannot unmount "${mountPoint}"`);
  } catch {
    await ns.run(['umount', '-l', mountPoint], `Cannot unmount "${mountPoint}" lazily`);
  }
}
