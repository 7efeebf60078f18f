// Priority renumbering with cgpt's `prioritize` semantics (pure): the target goes alone into a new
// top group; the groups, highest first, are renumbered from min(groups, 15) down to 1 (the lowest
// ones share 1 when there are more than 15); priority 0 stays 0.

/** Highest priority the 4-bit field holds. */
export const MAX_PRIORITY = 15;

/**
 * New priorities for `priorities` (partition -> priority) after moving `target` to the top.
 * `target` must be a key. The result has the same keys. `topPriority` is cgpt's -P (default:
 * the number of groups, at most 15).
 */
export function prioritizePartitions(priorities: ReadonlyMap<number, number>, target: number, topPriority?: number): Map<number, number> {
  if (!priorities.has(target)) throw new RangeError(`Partition ${target} is not among the partitions to prioritize`);
  const TOP = Number.POSITIVE_INFINITY;
  const groups = new Map<number, number[]>();
  for (const [partition, priority] of [...priorities].sort((a, b) => a[0] - b[0])) {
    const key = partition === target ? TOP : priority;
    const members = groups.get(key) ?? [];
    members.push(partition);
    groups.set(key, members);
  }
  const ordered = [...groups.entries()].sort((a, b) => b[0] - a[0]);
  const ranked = ordered.length > 0 && ordered[ordered.length - 1]?.[0] === 0 ? ordered.slice(0, -1) : ordered;
  const result = new Map<number, number>(priorities);
  let next = topPriority ?? Math.min(ranked.length, MAX_PRIORITY);
  for (const [, members] of ranked) {
    for (const partition of members) result.set(partition, next);
    if (next > 1) next -= 1;
  }
  return result;
}
