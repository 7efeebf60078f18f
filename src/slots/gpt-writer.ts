// Writes a GptTable to a Disk crash-safely: the copy that was not the source first, a sync, then the
// source copy, a sync (see planGptWrites). A hook runs after each individual write so tests and the
// hardening work can stop the process between any two writes.

import type { Disk } from './disk.ts';
import { planGptWrites, type GptTable, type GptWriteStep } from './gpt-table.ts';

export interface GptWriteHooks {
  /** Called after write number `index` (0-3) of the flip, before the next one starts. */
  afterWrite?(step: GptWriteStep, index: number): void | Promise<void>;
}

/** Writes both copies of `table`; returns the steps in the order they were written. */
export async function writeGptTable(disk: Disk, table: GptTable, hooks: GptWriteHooks = {}): Promise<GptWriteStep[]> {
  const writes = planGptWrites(table);
  const done: GptWriteStep[] = [];
  for (const [index, w] of writes.entries()) {
    await disk.write(w.data, w.offsetBytes);
    done.push(w.step);
    // The first copy must be durable before the second (the old table's last valid copy) is touched.
    if (index === 1 || index === writes.length - 1) await disk.sync();
    await hooks.afterWrite?.(w.step, index);
  }
  return done;
}
