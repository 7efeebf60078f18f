// Where the crash lab kills the daemon: a small seeded PRNG and a reproducible plan of kill points
// spread over one cycle (time offsets, bytes written to the slot, status changes, GPT table writes).

/** A SIGKILL at one point of a daemon cycle. */
export type KillPoint =
  /** From outside, `fraction` of the calibrated cycle time after the child said it started. */
  | { kind: 'time'; fraction: number }
  /** The child kills itself once this many bytes of the image were written to the slot. */
  | { kind: 'bytes'; afterBytes: number }
  /** The child kills itself when the status becomes `status` (synchronously, in the transition). */
  | { kind: 'status'; status: string }
  /** The child kills itself right after GPT table write number `afterWrites` (1-based) of this cycle. */
  | { kind: 'gpt-write'; afterWrites: number };

export type KillKind = KillPoint['kind'];

/** mulberry32: a tiny deterministic PRNG with values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a calibration run (no kill) of the scenario showed: the events a plan can aim at. */
export interface CycleProfile {
  /** Statuses the cycle went through, in order. */
  statuses: readonly string[];
  /** GPT table writes during the cycle. */
  gptWrites: number;
  /** Image bytes written to the slot. */
  bytesWritten: number;
}

export interface KillPlanOptions {
  seed: number;
  /** How many kill points in all (at least every status and every GPT write once). */
  count: number;
  profile: CycleProfile;
  /** Time points never land later than this fraction of the cycle (default 0.97). */
  maxTimeFraction?: number;
}

/**
 * A plan: every GPT write and every status once, then time offsets and byte counts in turn, each
 * drawn from the seeded PRNG. The same seed and profile give the same plan.
 */
export function planKillPoints(options: KillPlanOptions): KillPoint[] {
  const random = seededRandom(options.seed);
  const maxFraction = options.maxTimeFraction ?? 0.97;
  const plan: KillPoint[] = [];
  for (let n = 1; n <= options.profile.gptWrites; n++) plan.push({ kind: 'gpt-write', afterWrites: n });
  for (const status of new Set(options.profile.statuses)) plan.push({ kind: 'status', status });
  let useTime = true;
  while (plan.length < options.count) {
    if (useTime || options.profile.bytesWritten <= 1) {
      plan.push({ kind: 'time', fraction: Math.round(random() * maxFraction * 1000) / 1000 });
    } else {
      plan.push({ kind: 'bytes', afterBytes: 1 + Math.floor(random() * (options.profile.bytesWritten - 1)) });
    }
    useTime = !useTime;
  }
  return plan;
}

/** A short label for tables and failure messages, e.g. `gpt-write #3` or `bytes >= 1048576`. */
export function describeKillPoint(point: KillPoint): string {
  switch (point.kind) {
    case 'time':
      return `time ${Math.round(point.fraction * 100)}% of the cycle`;
    case 'bytes':
      return `bytes >= ${point.afterBytes}`;
    case 'status':
      return `status ${point.status}`;
    case 'gpt-write':
      return `gpt-write #${point.afterWrites}`;
  }
}
