// Finds the booted /usr slot and so the passive one: from BOOTED_PARTITION and DISK when set, else
// the kernel command line (verity.usr=, mount.usr=, usr=, root= with PARTUUID= or a device path),
// else the device mounted at /usr. The passive slot is the other configured slot on that disk.

import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { decodeGptEntries, type GptEntry } from './gpt-entry.ts';
import { readGptTable } from './gpt-reader.ts';
import { openFsDisk } from './fs-disk.ts';
import { kernelNameOf, listWholeDisks, partitionOf, type BlockPaths } from './block-device-sysfs.ts';
import { parseKernelCmdline, usrMountSource, USR_CMDLINE_KEYS } from './proc-parsers.ts';

export interface SlotDetectPaths extends BlockPaths {
  procCmdline: string;
  /** A mounts table in /proc/mounts format. */
  procMounts: string;
}

export const SYSTEM_SLOT_DETECT_PATHS: SlotDetectPaths = {
  procCmdline: '/proc/cmdline',
  procMounts: '/proc/self/mounts',
  sysBlock: '/sys/class/block',
  dev: '/dev',
};

export interface DetectSlotInput {
  /** DISK, when set. */
  disk?: string | undefined;
  /** BOOTED_PARTITION, when set. */
  bootedPartition?: number | undefined;
  slotAPartition: number;
  slotBPartition: number;
  paths?: Partial<SlotDetectPaths> | undefined;
}

export interface DetectedSlot {
  disk: string;
  bootedPartition: number;
  passivePartition: number;
  /** How it was found, for logs: "BOOTED_PARTITION", "kernel command line mount.usr=...", ... */
  source: string;
}

interface Candidate {
  what: string;
  spec: string;
}

type Resolved = { disk: string; partition: number } | { failure: string };

async function findPartition(match: (e: GptEntry) => boolean, what: string, disk: string | undefined, paths: SlotDetectPaths): Promise<Resolved> {
  const disks = disk !== undefined ? [disk] : (await listWholeDisks(paths)).map((name) => join(paths.dev, name));
  for (const path of disks) {
    try {
      const d = await openFsDisk(path, { sysBlock: paths.sysBlock });
      try {
        const table = await readGptTable(d);
        const hit = decodeGptEntries(table.entries, table.primary).find(match);
        if (hit) return { disk: path, partition: hit.partition };
      } finally {
        await d.close();
      }
    } catch {
      // not a readable GPT disk: look at the next one
    }
  }
  return { failure: disk !== undefined ? `no partition has that ${what} on "${disk}"` : `no GPT disk in ${paths.sysBlock} has that ${what}` };
}

async function resolveSpec(spec: string, disk: string | undefined, paths: SlotDetectPaths): Promise<Resolved> {
  const partuuid = /^PARTUUID=([0-9a-fA-F-]{36})$/.exec(spec);
  if (partuuid?.[1]) {
    const uuid = partuuid[1].toLowerCase();
    return findPartition((e) => e.uuid === uuid, 'PARTUUID', disk, paths);
  }
  // PARTLABEL=USR-A: what the grubenv and bls boot configurations pass (src/boot/boot-config.ts).
  const partlabel = /^PARTLABEL=(.+)$/.exec(spec);
  if (partlabel?.[1]) return findPartition((e) => e.label === partlabel[1], 'PARTLABEL', disk, paths);
  if (!spec.startsWith('/')) return { failure: 'unsupported (only PARTUUID=, PARTLABEL= and device paths are understood)' };
  const name = await kernelNameOf(spec, paths);
  if (name === undefined) return { failure: `"${spec}" does not exist` };
  const part = await partitionOf(name, paths);
  if (!part) return { failure: `"${spec}" (${name}) is not a partition in ${paths.sysBlock}` };
  if (disk !== undefined) {
    const [want, got] = await Promise.all([realpath(disk).catch(() => disk), realpath(part.diskPath).catch(() => part.diskPath)]);
    if (want !== got) return { failure: `it is on ${part.diskPath}, not on DISK "${disk}"` };
  }
  return { disk: disk ?? part.diskPath, partition: part.partition };
}

async function candidates(paths: SlotDetectPaths, tried: string[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const cmdline = await readFile(paths.procCmdline, 'utf8').catch(() => undefined);
  if (cmdline === undefined) tried.push(`${paths.procCmdline}: unreadable`);
  else {
    const params = parseKernelCmdline(cmdline);
    for (const key of USR_CMDLINE_KEYS) {
      const value = params.get(key);
      if (value !== undefined) out.push({ what: `kernel command line ${key}=${value}`, spec: value });
    }
    if (out.length === 0) tried.push(`${paths.procCmdline}: no ${USR_CMDLINE_KEYS.map((k) => `${k}=`).join(', ')}`);
  }
  const mounts = await readFile(paths.procMounts, 'utf8').catch(() => undefined);
  const source = mounts === undefined ? undefined : usrMountSource(mounts);
  if (source !== undefined) out.push({ what: `${source} mounted at /usr (${paths.procMounts})`, spec: source });
  else tried.push(`${paths.procMounts}: ${mounts === undefined ? 'unreadable' : 'no device mounted at /usr'}`);
  return out;
}

/** Finds the booted and the passive slot; ERR_SLOT_DETECT says everything that was tried. */
export async function detectBootedSlot(input: DetectSlotInput): Promise<DetectedSlot> {
  const paths: SlotDetectPaths = { ...SYSTEM_SLOT_DETECT_PATHS, ...input.paths };
  const { slotAPartition: a, slotBPartition: b } = input;
  const other = (p: number): number => (p === a ? b : a);
  if (input.bootedPartition !== undefined && input.bootedPartition !== a && input.bootedPartition !== b) {
    throw new UpdateEngineError('ERR_SLOT_DETECT', `BOOTED_PARTITION=${input.bootedPartition} is neither slot A (${a}) nor slot B (${b})`);
  }
  if (input.bootedPartition !== undefined && input.disk !== undefined) {
    return { disk: input.disk, bootedPartition: input.bootedPartition, passivePartition: other(input.bootedPartition), source: 'BOOTED_PARTITION' };
  }
  const tried: string[] = [];
  for (const c of await candidates(paths, tried)) {
    const r = await resolveSpec(c.spec, input.disk, paths);
    if ('failure' in r) {
      tried.push(`${c.what}: ${r.failure}`);
      continue;
    }
    const booted = input.bootedPartition ?? r.partition;
    if (booted !== a && booted !== b) {
      tried.push(`${c.what}: partition ${r.partition} of ${r.disk} is neither slot A (${a}) nor slot B (${b})`);
      continue;
    }
    return { disk: r.disk, bootedPartition: booted, passivePartition: other(booted), source: c.what };
  }
  throw new UpdateEngineError('ERR_SLOT_DETECT', `Cannot find the booted /usr slot: ${tried.join('; ')}; set BOOTED_PARTITION and DISK`);
}
