// Builds the BootBackend that BOOT_BACKEND names, with the ESP that ESP names: a mounted directory,
// or "partition:N" / "auto" for a FAT partition of DISK itself reached through mtools (image files).

import { UpdateEngineError } from '../errors.ts';
import type { SlotPartitions } from '../slots/index.ts';
import type { BootBackend, BootBackendName } from './boot-backend.ts';
import { blsStore } from './bls-store.ts';
import { DirEsp, type Esp } from './esp.ts';
import { grubenvStore } from './grubenv-store.ts';
import { MirroredBackend } from './mirrored-backend.ts';
import { MtoolsEsp } from './mtools-esp.ts';

export interface BootBackendSettings extends SlotPartitions {
  bootBackend: BootBackendName;
  /** ESP location (ESP setting). */
  esp: string;
  /** efivarfs (tests); default /sys/firmware/efi/efivars. */
  efivarsDir?: string;
  /** SLOT_TYPE: the partition type GUID a slot must have. */
  slotType?: string;
}

/** An ESP from the ESP setting for `disk`. */
export async function openEsp(esp: string, disk: string): Promise<Esp> {
  if (esp === 'auto') return MtoolsEsp.open(disk);
  const m = /^partition:(\d+)$/.exec(esp);
  if (m) return MtoolsEsp.open(disk, Number(m[1]));
  const dir = new DirEsp(esp);
  if (!(await dir.exists()))
    throw new UpdateEngineError('ERR_BOOT_CONFIG', `The ESP directory "${esp}" (ESP) does not exist; mount the EFI system partition there or set ESP`);
  return dir;
}

export function createBootBackend(settings: BootBackendSettings): BootBackend {
  const partitions = { slotAPartition: settings.slotAPartition, slotBPartition: settings.slotBPartition };
  const espFor = (disk: string) => openEsp(settings.esp, disk);
  const gpt = settings.slotType !== undefined ? { slotTypeGuid: settings.slotType } : {};
  switch (settings.bootBackend) {
    case 'gptprio':
      return new MirroredBackend(partitions, undefined, espFor, undefined, gpt);
    case 'grubenv':
      return new MirroredBackend(partitions, grubenvStore, espFor, undefined, gpt);
    case 'bls':
      return new MirroredBackend(partitions, blsStore, espFor, settings.efivarsDir, gpt);
  }
}
