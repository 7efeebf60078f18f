// The ChromeOS/CoreOS boot attributes inside a GPT entry's 64-bit attribute field:
// priority = bits 48-51, tries = bits 52-55, successful = bit 56. Every other bit is preserved.

export interface BootAttributes {
  /** 0-15; 0 means never boot this slot. */
  priority: number;
  /** 0-15; boot attempts left for an unconfirmed slot. */
  tries: number;
  /** The slot booted and passed its health check. */
  successful: boolean;
}

const PRIORITY_SHIFT = 48n;
const TRIES_SHIFT = 52n;
const SUCCESSFUL_SHIFT = 56n;
const NIBBLE = 0xfn;
const OWNED_MASK = (NIBBLE << PRIORITY_SHIFT) | (NIBBLE << TRIES_SHIFT) | (1n << SUCCESSFUL_SHIFT);
const U64_MASK = (1n << 64n) - 1n;

/** Reads priority, tries and successful from an attribute field. */
export function decodeBootAttributes(attributes: bigint): BootAttributes {
  return {
    priority: Number((attributes >> PRIORITY_SHIFT) & NIBBLE),
    tries: Number((attributes >> TRIES_SHIFT) & NIBBLE),
    successful: ((attributes >> SUCCESSFUL_SHIFT) & 1n) === 1n,
  };
}

function checkNibble(name: string, value: number): bigint {
  if (!Number.isInteger(value) || value < 0 || value > 15) throw new RangeError(`${name} must be an integer from 0 to 15, got ${value}`);
  return BigInt(value);
}

/** Returns `attributes` with the boot fields replaced by `boot` and all other bits unchanged. */
export function encodeBootAttributes(attributes: bigint, boot: BootAttributes): bigint {
  const priority = checkNibble('priority', boot.priority);
  const tries = checkNibble('tries', boot.tries);
  const kept = attributes & U64_MASK & ~OWNED_MASK;
  return kept | (priority << PRIORITY_SHIFT) | (tries << TRIES_SHIFT) | ((boot.successful ? 1n : 0n) << SUCCESSFUL_SHIFT);
}
