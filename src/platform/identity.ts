// Machine identity: machine-id, boot id, os-release and the OEM release file, each read from an injectable path.

import { readFile } from 'node:fs/promises';
import { parseKeyValueText } from '../config/key-value.ts';

export interface IdentityPaths {
  machineId: string;
  bootId: string;
  osRelease: string;
  /** OEM release files, first match per key wins (update_engine's GetOemValue); none read when absent. */
  oemRelease?: readonly string[];
}

export const defaultIdentityPaths: IdentityPaths = {
  machineId: '/etc/machine-id',
  bootId: '/proc/sys/kernel/random/boot_id',
  osRelease: '/etc/os-release',
  oemRelease: ['/etc/oem-release', '/usr/share/oem/oem-release'],
};

export interface MachineIdentity {
  /** /etc/machine-id: 32 lower-case hex digits, no braces (locksmith's holder id, Omaha machineid). */
  machineId: string;
  /** The kernel's boot id as a GUID in braces, as update_engine sends it (Omaha bootid). */
  bootId: string;
  /** ID of the OEM release file (Omaha oem), when there is one. */
  oem?: string;
  /** VERSION_ID of the OEM release file (Omaha oemversion), when there is one. */
  oemVersion?: string;
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Reads /etc/machine-id; undefined when missing or empty. */
export async function readMachineId(paths: Pick<IdentityPaths, 'machineId'> = defaultIdentityPaths): Promise<string | undefined> {
  const id = await readTrimmed(paths.machineId);
  return id ? id.toLowerCase() : undefined;
}

/** Reads the boot id, in braces; undefined when the kernel does not expose it. */
export async function readBootId(paths: Pick<IdentityPaths, 'bootId'> = defaultIdentityPaths): Promise<string | undefined> {
  const id = await readTrimmed(paths.bootId);
  return id ? `{${id.replace(/^\{|\}$/g, '')}}` : undefined;
}

/** Reads os-release as a key/value map (quotes stripped); empty when the file is missing. */
export async function readOsRelease(paths: Pick<IdentityPaths, 'osRelease'> = defaultIdentityPaths): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(paths.osRelease, 'utf8');
  } catch {
    return new Map();
  }
  const out = new Map<string, string>();
  for (const entry of parseKeyValueText(text, paths.osRelease).entries) out.set(entry.key, entry.value);
  return out;
}

/** ID and VERSION_ID from the OEM release files, each from the first file that has it (update_engine's order). */
export async function readOemRelease(paths: Pick<IdentityPaths, 'oemRelease'> = defaultIdentityPaths): Promise<{ oem?: string; oemVersion?: string }> {
  const out: { oem?: string; oemVersion?: string } = {};
  for (const path of paths.oemRelease ?? []) {
    const values = await readOsRelease({ osRelease: path });
    if (out.oem === undefined && values.has('ID')) out.oem = values.get('ID') as string;
    if (out.oemVersion === undefined && values.has('VERSION_ID')) out.oemVersion = values.get('VERSION_ID') as string;
  }
  return out;
}

/** Reads machine-id and boot id together; a missing id becomes a fixed placeholder and is reported. */
export async function readMachineIdentity(paths: IdentityPaths = defaultIdentityPaths): Promise<MachineIdentity & { missing: string[] }> {
  const missing: string[] = [];
  const machineId = await readMachineId(paths);
  if (!machineId) missing.push(paths.machineId);
  const bootId = await readBootId(paths);
  if (!bootId) missing.push(paths.bootId);
  return {
    machineId: machineId ?? '00000000000000000000000000000000',
    bootId: bootId ?? '{00000000-0000-0000-0000-000000000000}',
    ...(await readOemRelease(paths)),
    missing,
  };
}
