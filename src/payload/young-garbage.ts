// Frees the memory of transport chunks that were copied into block slots and dropped. V8 does not
// count the memory behind ArrayBuffers towards its collection triggers, and the apply makes almost
// no other garbage: without help, gigabytes of dead chunks would pile up before a collection.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    // --expose-gc makes `gc` available in contexts created from now on; a fresh context hands it out.
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    collect = typeof fn === 'function' ? (fn as Collect) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Runs a collection now; false when the runtime offers no collector. */
export function collectGarbage(type: 'minor' | 'major'): boolean {
  const gc = collector();
  if (!gc) return false;
  // A plain gc() is the full collection (it also clears WeakRefs, which gc({ type: 'major' }) may not).
  if (type === 'major') gc();
  else gc({ type: 'minor' });
  return true;
}

/**
 * Counts bytes of dropped chunks and runs a young-generation collection (a scavenge: it only visits
 * live young objects, well under a millisecond here) every `everyBytes`, which frees the memory
 * behind the dead chunks. Without the collector (an unusual runtime) it does nothing.
 */
export class YoungGarbageCollector {
  private droppedBytes = 0;
  /** Collections run so far. */
  collections = 0;

  constructor(private readonly everyBytes: number) {}

  dropped(bytes: number): void {
    this.droppedBytes += bytes;
    if (this.droppedBytes < this.everyBytes) return;
    this.droppedBytes = 0;
    if (collectGarbage('minor')) this.collections += 1;
  }
}
