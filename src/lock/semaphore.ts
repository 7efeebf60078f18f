// The reboot semaphore, pure and locksmith-compatible: its JSON value ({"semaphore":N,"max":M,
// "holders":[...]}, holders sorted in byte order; null, [] or missing accepted), lock, unlock and
// set-max with locksmith's error texts ("semaphore is at N", "holder exists", "holder does not exist").

import { UpdateEngineError } from '../errors.ts';

/** The semaphore as stored: `semaphore` is the number of free slots, `max` the number of slots. */
export interface Semaphore {
  semaphore: number;
  max: number;
  /** Machine ids holding a slot, sorted in byte order, no duplicates. */
  holders: string[];
}

/** The value a missing key stands for (locksmith creates it on first use). */
export function initialSemaphore(): Semaphore {
  return { semaphore: 1, max: 1, holders: [] };
}

/** Byte-order comparison of UTF-8 strings (Go's sort.Strings), not UTF-16 code-unit order. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function invalid(reason: string, text: string): UpdateEngineError {
  const shown = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return new UpdateEngineError('ERR_LOCK_VALUE', `Cannot read the reboot semaphore ${JSON.stringify(shown)}: ${reason}`);
}

function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Parses a stored value. Missing or null `holders` mean none; unknown fields are ignored; holders are re-sorted. */
export function parseSemaphore(text: string): Semaphore {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not JSON', text);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object', text);
  const record = value as Record<string, unknown>;
  const semaphore = record.semaphore ?? 0;
  const max = record.max ?? 0;
  if (!isInteger(semaphore)) throw invalid('"semaphore" is not an integer', text);
  if (!isInteger(max)) throw invalid('"max" is not an integer', text);
  const rawHolders = record.holders ?? [];
  if (!Array.isArray(rawHolders) || !rawHolders.every((h): h is string => typeof h === 'string')) {
    throw invalid('"holders" is not a list of strings', text);
  }
  const holders = [...new Set(rawHolders)].sort(compareBytes);
  return { semaphore, max, holders };
}

/** The stored form, fields in locksmith's order. */
export function formatSemaphore(sem: Semaphore): string {
  return JSON.stringify({ semaphore: sem.semaphore, max: sem.max, holders: sem.holders });
}

/**
 * Why a stored semaphore cannot be trusted to hand out a slot, or undefined: a negative free count,
 * more holders than slots, or more free slots than max - holders (a forged or broken value could
 * otherwise let more machines reboot at once than the operator allowed). Only `locksmithctl set-max`
 * repairs it; unlock stays allowed, since giving a slot back is always safe.
 */
export function semaphoreCorruption(sem: Semaphore): string | undefined {
  if (sem.semaphore < 0) return `its free count is ${sem.semaphore}`;
  if (sem.holders.length > sem.max) return `${sem.holders.length} holders exceed its max of ${sem.max}`;
  // Fewer free slots than max - holders only makes reboots rarer; more would let extra machines go.
  if (sem.semaphore + sem.holders.length > sem.max) return `free count ${sem.semaphore} + ${sem.holders.length} holders exceed its max of ${sem.max}`;
  return undefined;
}

/** Takes a slot for `holder`. Throws ERR_LOCK_UNAVAILABLE ("semaphore is at N"), ERR_LOCK_DUPLICATE_HOLDER ("holder exists") or ERR_LOCK_VALUE (corrupt). */
export function lockSemaphore(sem: Semaphore, holder: string): Semaphore {
  const corrupt = semaphoreCorruption(sem);
  if (corrupt) {
    throw new UpdateEngineError(
      'ERR_LOCK_VALUE',
      `The reboot semaphore is corrupt (${corrupt}); no slot is taken until it is repaired with "locksmithctl set-max N" (after unlocking holders beyond N)`,
      {
        details: { semaphore: sem.semaphore, holders: sem.holders, max: sem.max },
      },
    );
  }
  if (sem.semaphore <= 0) {
    throw new UpdateEngineError('ERR_LOCK_UNAVAILABLE', `semaphore is at ${sem.semaphore}`, { details: { holders: sem.holders, max: sem.max } });
  }
  if (sem.holders.includes(holder)) {
    throw new UpdateEngineError('ERR_LOCK_DUPLICATE_HOLDER', 'holder exists', { details: { holder } });
  }
  return { semaphore: sem.semaphore - 1, max: sem.max, holders: [...sem.holders, holder].sort(compareBytes) };
}

/** Gives back `holder`'s slot. Throws ERR_LOCK_NOT_HOLDER ("holder does not exist"). */
export function unlockSemaphore(sem: Semaphore, holder: string): Semaphore {
  if (!sem.holders.includes(holder)) {
    throw new UpdateEngineError('ERR_LOCK_NOT_HOLDER', 'holder does not exist', { details: { holder } });
  }
  return { semaphore: sem.semaphore + 1, max: sem.max, holders: sem.holders.filter((h) => h !== holder) };
}

/**
 * Sets the number of slots; the free count becomes max - holders (locksmith's SetMax when the value
 * was consistent; for a corrupt one this is the repair), so current holders keep their slots and the
 * free count may go negative until enough of them unlock.
 */
export function setSemaphoreMax(sem: Semaphore, max: number): Semaphore {
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new UpdateEngineError('ERR_USAGE', `Invalid maximum value: ${JSON.stringify(String(max))} (expected a whole number, 0 or more)`);
  }
  return { semaphore: max - sem.holders.length, max, holders: [...sem.holders] };
}

/** Whether `holder` holds a slot. */
export function holdsSemaphore(sem: Semaphore, holder: string): boolean {
  return sem.holders.includes(holder);
}
