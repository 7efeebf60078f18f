// GUIDs as GPT stores them: 16 bytes, the first three fields little-endian, the last two big-endian
// ("mixed endian"). Text form is lower-case 8-4-4-4-12 hex.

import { randomBytes } from 'node:crypto';

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a GUID in text form (either case). */
export function isGuidText(text: string): boolean {
  return GUID_TEXT.test(text.toLowerCase());
}

/** Decodes the 16 bytes at `offset` into lower-case text. */
export function decodeGuid(buf: Uint8Array, offset = 0): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset + offset, 16);
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(start, end));
    if (reverse) part.reverse();
    return part.toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** Encodes a GUID in text form into 16 bytes at `offset` of `buf`. */
export function encodeGuid(text: string, buf: Buffer, offset = 0): void {
  const lower = text.toLowerCase();
  if (!GUID_TEXT.test(lower)) throw new TypeError(`Not a GUID: "${text}"`);
  const [a, b, c, d, e] = lower.split('-') as [string, string, string, string, string];
  Buffer.from(a, 'hex').reverse().copy(buf, offset);
  Buffer.from(b, 'hex')
    .reverse()
    .copy(buf, offset + 4);
  Buffer.from(c, 'hex')
    .reverse()
    .copy(buf, offset + 6);
  Buffer.from(d, 'hex').copy(buf, offset + 8);
  Buffer.from(e, 'hex').copy(buf, offset + 10);
}

/** A random (version 4, RFC 4122 variant) GUID in lower-case text. */
export function randomGuid(): string {
  const bytes = randomBytes(16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** True when all 16 bytes at `offset` are zero (an unused partition entry's type). */
export function isZeroGuid(buf: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 16; i++) if (buf[offset + i] !== 0) return false;
  return true;
}
