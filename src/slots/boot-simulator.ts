// The boot simulator: what GRUB's `gptprio.next` does at every boot. Among the partitions with the
// /usr type GUID, take the highest priority (> 0) whose tries > 0 or successful = 1 (ties: the lowest
// partition number); if its tries > 0, count one down and write both GPT copies before "booting"
// (both copies also when one was damaged: GRUB repairs first).

import { UpdateEngineError } from '../errors.ts';
import { decodeBootAttributes, encodeBootAttributes } from './attributes.ts';
import { decodeGptEntries, setEntryAttributes, type GptEntry } from './gpt-entry.ts';
import { readGptTable } from './gpt-reader.ts';
import { writeGptTable } from './gpt-writer.ts';
import { openFsDisk } from './fs-disk.ts';
import { hasUsrType } from './slot-model.ts';
import type { SlotOptions } from './slot-operations.ts';

export interface BootChoice {
  partition: number;
  label: string;
  uuid: string;
  /** Tries left after this boot (what the GPT now holds). */
  tries: number;
}

/** The entry gptprio.next would boot, or undefined when none qualifies (pure). */
export function chooseBootEntry(entries: readonly GptEntry[]): GptEntry | undefined {
  let best: GptEntry | undefined;
  let bestPriority = 0;
  for (const entry of [...entries].sort((a, b) => a.partition - b.partition)) {
    if (!hasUsrType(entry)) continue;
    const { priority, tries, successful } = decodeBootAttributes(entry.attributes);
    if ((tries > 0 || successful) && priority > bestPriority) {
      best = entry;
      bestPriority = priority;
    }
  }
  return best;
}

function describe(entries: readonly GptEntry[]): string {
  const usr = entries.filter(hasUsrType);
  if (usr.length === 0) return 'there is no partition of the /usr type';
  return usr
    .map((e) => {
      const b = decodeBootAttributes(e.attributes);
      return `${e.partition} "${e.label}" priority=${b.priority} tries=${b.tries} successful=${b.successful ? 1 : 0}`;
    })
    .join(', ');
}

/** Chooses the slot to boot, decrements its tries on disk when it has any, and returns the choice. */
export async function bootSimulate(disk: string, options: SlotOptions = {}): Promise<BootChoice> {
  const d = await openFsDisk(disk, { writable: true, sectorSizeBytes: options.sectorSizeBytes, sysBlock: options.sysBlock });
  try {
    const table = await readGptTable(d);
    const entries = decodeGptEntries(table.entries, table.primary);
    const chosen = chooseBootEntry(entries);
    if (!chosen) throw new UpdateEngineError('ERR_NO_BOOTABLE_SLOT', `No bootable slot on "${disk}": ${describe(entries)}`);
    const boot = decodeBootAttributes(chosen.attributes);
    if (boot.tries > 0) {
      boot.tries -= 1;
      setEntryAttributes(table.entries, table.primary, chosen.partition, encodeBootAttributes(chosen.attributes, boot));
    }
    // GRUB repairs a damaged copy before it chooses (gptprio.c grub_find_next: grub_gpt_repair).
    if (boot.tries !== decodeBootAttributes(chosen.attributes).tries || table.problems.length > 0) await writeGptTable(d, table, options.hooks);
    return { partition: chosen.partition, label: chosen.label, uuid: chosen.uuid, tries: boot.tries };
  } finally {
    await d.close();
  }
}
