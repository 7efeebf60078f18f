// Machine identity: machine-id, boot id and os-release, each read from an injectable path.

import { readFile } from 'node:fs/promises';
import { parseKeyValueText } from '../config/key-value.ts';

export interface IdentityPaths {
  machineId: string;
  bootId: string;
  osRelease: string;
}

export const defaultIdentityPaths: IdentityPaths = {
  machineId: '/etc/machine-id',
  bootId: '/proc/sys/kernel/random/boot_id',
  osRelease: '/etc/os-release',
};

export interface MachineIdentity {
  /** /etc/machine-id: 32 lower-case hex digits, no braces (locksmith's holder id, Omaha machineid). */
  machineId: string;
  /** The kernel's boot id as a GUID in braces, as update_engine sends it (Omaha bootid). */
  bootId: string;
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
    missing,
  };
}
