// The bls scheme's state: the names of the two Boot Loader Specification entries on the ESP,
// /loader/entries/update-engine-<priority>-<a|b>[+LEFT[-DONE]].conf. systemd-boot sorts entries
// with no tries left last, then by id descending (so the higher priority first) and boots the first;
// it counts a try by renaming +LEFT-DONE to +(LEFT-1)-(DONE+1) before it starts the kernel.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import type { SlotPartitions } from '../slots/index.ts';
import type { BootCheck, BootWriteHooks, SlotBoot } from './boot-backend.ts';
import type { Esp } from './esp.ts';
import type { LoaderStore } from './mirrored-backend.ts';

export const BLS_ENTRIES_DIR = '/loader/entries';
const NAME = /^update-engine-(\d+)-([ab])(?:\+(\d+)(?:-(\d+))?)?\.conf$/;

export interface BlsName {
  letter: 'A' | 'B';
  priority: number;
  /** undefined: no counter, the entry is good (systemd-bless-boot's convention). */
  left?: number;
  done?: number;
}

export function parseBlsName(name: string): BlsName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const parsed: BlsName = { letter: m[2] === 'a' ? 'A' : 'B', priority: Number(m[1]) };
  if (m[3] !== undefined) parsed.left = Number(m[3]);
  if (m[4] !== undefined) parsed.done = Number(m[4]);
  return parsed;
}

export function formatBlsName(n: BlsName): string {
  const counter = n.left === undefined ? '' : `+${n.left}${n.done === undefined ? '' : `-${n.done}`}`;
  return `update-engine-${n.priority}-${n.letter.toLowerCase()}${counter}.conf`;
}

/** The entry name for a slot state (pure); keeps the done count of `current` when the state is unchanged. */
export function blsNameFor(s: SlotBoot, current?: BlsName): BlsName {
  if (s.successful && s.priority > 0) return { letter: s.letter, priority: s.priority };
  const left = s.priority > 0 ? Math.min(s.tries, 1) : 0;
  if (current && current.priority === s.priority && current.left === left) return current;
  return { letter: s.letter, priority: s.priority, left, done: 0 };
}

/** How systemd-boot ranks an entry: bad ones (no tries left) last, then the higher priority (pure). */
export const blsRank = (n: BlsName): number => (n.left === 0 ? 0 : 100) + n.priority;

export function slotFromBls(n: BlsName, partitions: SlotPartitions): SlotBoot {
  return {
    letter: n.letter,
    partition: n.letter === 'A' ? partitions.slotAPartition : partitions.slotBPartition,
    priority: n.priority,
    tries: n.left ?? 0,
    successful: n.left === undefined,
  };
}

async function entriesOf(esp: Esp): Promise<Map<'A' | 'B', { file: string; name: BlsName }>> {
  const found = new Map<'A' | 'B', { file: string; name: BlsName }>();
  for (const file of await esp.list(BLS_ENTRIES_DIR)) {
    const name = parseBlsName(file);
    if (!name) continue;
    if (found.has(name.letter))
      throw new UpdateEngineError(
        'ERR_BOOT_CONFIG',
        `Two BLS entries for slot ${name.letter} in ${BLS_ENTRIES_DIR} on the ESP at ${esp.where}: "${found.get(name.letter)?.file}" and "${file}"`,
      );
    found.set(name.letter, { file, name });
  }
  for (const letter of ['A', 'B'] as const) {
    if (!found.has(letter))
      throw new UpdateEngineError(
        'ERR_BOOT_CONFIG',
        `No BLS entry for slot ${letter} in ${BLS_ENTRIES_DIR} on the ESP at ${esp.where}; run "update-engine boot install-config --backend bls"`,
      );
  }
  return found;
}

/** systemd-boot's vendor GUID for its EFI variables (LoaderEntrySelected, ...). */
export const LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

/** The slot of an entry id as systemd-boot records it in LoaderEntrySelected (pure). */
export function slotOfEntryId(id: string): 'A' | 'B' | undefined {
  const m = /^update-engine-\d+-([ab])(?:\+\d+(?:-\d+)?)?(?:\.conf)?$/i.exec(id.trim());
  return m?.[1] === undefined ? undefined : m[1].toLowerCase() === 'a' ? 'A' : 'B';
}

/** An efivarfs file: 4 bytes of attributes, then the value; systemd-boot's strings are UTF-16LE with a NUL. */
export function decodeEfiString(file: Buffer): string {
  return file.subarray(4).toString('utf16le').replace(/\0+$/, '');
}

export const blsStore: LoaderStore = {
  name: 'bls',
  async firmwareBootedSlot(efivarsDir: string) {
    const file = await readFile(join(efivarsDir, `LoaderEntrySelected-${LOADER_GUID}`)).catch(() => undefined);
    return file ? slotOfEntryId(decodeEfiString(file)) : undefined;
  },
  async write(esp: Esp, slots: readonly SlotBoot[], hooks: BootWriteHooks, firstIndex: number) {
    const current = await entriesOf(esp);
    const renames = slots
      .map((s) => {
        const cur = current.get(s.letter) as { file: string; name: BlsName };
        const next = blsNameFor(s, cur.name);
        return { from: cur.file, to: formatBlsName(next), up: blsRank(next) - blsRank(cur.name) };
      })
      .filter((r) => r.from !== r.to)
      // Each rename is one directory update; entries that go down are renamed before those that go
      // up, so that in between the slot that was first stays first or the other one is good to boot.
      .sort((a, b) => a.up - b.up);
    let index = firstIndex;
    for (const r of renames) {
      await esp.rename(`${BLS_ENTRIES_DIR}/${r.from}`, `${BLS_ENTRIES_DIR}/${r.to}`);
      await hooks.afterWrite?.(`bls ${r.to}`, index);
      index += 1;
    }
  },
  async read(esp: Esp, partitions: SlotPartitions) {
    return [...(await entriesOf(esp)).values()].map((e) => slotFromBls(e.name, partitions)).sort((a, b) => a.letter.localeCompare(b.letter));
  },
  async check(esp: Esp, partitions: SlotPartitions) {
    const checks: BootCheck[] = [];
    checks.push(
      (await esp.read('/loader/loader.conf'))
        ? { ok: true, message: '/loader/loader.conf present' }
        : { ok: false, message: `/loader/loader.conf missing on the ESP at ${esp.where}; run "update-engine boot install-config --backend bls --esp DIR"` },
    );
    try {
      const entries = await entriesOf(esp);
      checks.push({ ok: true, message: `BLS entries: ${[...entries.values()].map((e) => e.file).join(', ')}` });
      for (const { name } of entries.values()) {
        const body = (await esp.read(`${BLS_ENTRIES_DIR}/${formatBlsName(name)}`))?.toString('utf8') ?? '';
        const kernel = /^linux\s+(\S+)/m.exec(body)?.[1];
        if (!kernel) checks.push({ ok: false, message: `The BLS entry of slot ${name.letter} has no "linux" line` });
        else if (!(await esp.read(kernel)))
          checks.push({ ok: false, message: `The kernel of slot ${name.letter}, ${kernel}, is missing on the ESP at ${esp.where}` });
      }
    } catch (e) {
      checks.push({ ok: false, message: (e as Error).message });
    }
    void partitions;
    return checks;
  },
};
