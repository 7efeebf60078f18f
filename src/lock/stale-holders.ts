// Dead-holder detection, pure: a waiting node notes when it first saw each holder's liveness key
// missing, and after LOCK_STALE_AFTER of continuous absence that holder may be evicted. Only holders
// whose record says they keep a liveness key qualify (never a manual lock, never locksmith's).

import type { HolderView } from './lock-snapshot.ts';

export interface StaleVerdict {
  /** Holders gone at least staleAfterMs (by this watcher's own observation). */
  evict: { id: string; goneForMs: number }[];
  /** When (monotonic ms) the next holder becomes evictable, if any is gone but not yet long enough. */
  nextDeadlineMs: number | undefined;
}

/**
 * Tracks liveness absence per holder with monotonic time. The timing starts when this node first
 * sees the absence, so a node that starts watching late waits the whole period: eviction is never early.
 */
export class StaleHolderTracker {
  private readonly goneSinceMs = new Map<string, number>();

  constructor(private readonly staleAfterMs: number) {}

  get enabled(): boolean {
    return this.staleAfterMs > 0;
  }

  /** Updates the tracking with the holders seen now and says who may be evicted. */
  observe(holders: readonly HolderView[], nowMs: number): StaleVerdict {
    const verdict: StaleVerdict = { evict: [], nextDeadlineMs: undefined };
    if (!this.enabled) return verdict;
    const seen = new Set<string>();
    for (const h of holders) {
      seen.add(h.id);
      const watched = h.record?.liveness === true;
      if (!watched || h.alive) {
        this.goneSinceMs.delete(h.id);
        continue;
      }
      const since = this.goneSinceMs.get(h.id) ?? nowMs;
      this.goneSinceMs.set(h.id, since);
      const goneForMs = nowMs - since;
      if (goneForMs >= this.staleAfterMs) verdict.evict.push({ id: h.id, goneForMs });
      else {
        const deadline = since + this.staleAfterMs;
        verdict.nextDeadlineMs = verdict.nextDeadlineMs === undefined ? deadline : Math.min(verdict.nextDeadlineMs, deadline);
      }
    }
    for (const id of [...this.goneSinceMs.keys()]) if (!seen.has(id)) this.goneSinceMs.delete(id);
    return verdict;
  }

  /** Forgets a holder (after it was evicted). */
  forget(id: string): void {
    this.goneSinceMs.delete(id);
  }
}
