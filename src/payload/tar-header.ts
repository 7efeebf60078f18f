// The payload's tar layout: the four entry names in their fixed order, and a strict decoder for one
// 512-byte ustar header (regular files with plain names only; links, pax, GNU long names are refused).

import { UpdateEngineError } from '../errors.ts';

export const TAR_BLOCK_BYTES = 512;
/** tar-stream's pack ends an archive with two zero blocks; readers accept more zero padding up to this. */
export const TRAILER_MAX_BYTES = 64 * 1024;

/** The entries of a formatVersion 1 payload, in the only order accepted. */
export const ENTRY_NAMES = ['manifest.json', 'signatures.json', 'block-table.bin', 'image-data.bin'] as const;
/** The entries of a formatVersion 2 payload: the chunk index comes before the image data. */
export const ENTRY_NAMES_V2 = ['manifest.json', 'signatures.json', 'block-table.bin', 'chunk-index.bin', 'image-data.bin'] as const;
export type EntryName = (typeof ENTRY_NAMES_V2)[number];

export interface TarEntryHeader {
  name: string;
  sizeBytes: number;
}

/** Bytes of padding after an entry of `sizeBytes` to reach the next 512-byte boundary. */
export function tarPadding(sizeBytes: number): number {
  const rest = sizeBytes % TAR_BLOCK_BYTES;
  return rest === 0 ? 0 : TAR_BLOCK_BYTES - rest;
}

function fail(message: string): never {
  throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', message);
}

function cString(block: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + start, end - start).toString('latin1');
}

/** A numeric field: octal text (NUL/space terminated) or GNU base-256 (high bit set, positive only). */
function numeric(block: Uint8Array, start: number, length: number, what: string, at: number): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    if (first !== 0x80) fail(`Tar header at offset ${at} has a negative or invalid ${what}`);
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + (block[i] ?? 0);
    if (!Number.isSafeInteger(n)) fail(`Tar header at offset ${at} has a ${what} too large to handle`);
    return n;
  }
  const text = cString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) fail(`Tar header at offset ${at} has an invalid ${what} "${text}"`);
  return parseInt(text, 8);
}

function checksumOf(block: Uint8Array): number {
  let sum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) if (i < 148 || i >= 156) sum += block[i] ?? 0;
  return sum;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.byteLength; i++) if (block[i] !== 0) return false;
  return true;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symlink',
  '3': 'a character device',
  '4': 'a block device',
  '5': 'a directory',
  '6': 'a FIFO',
  x: 'a pax extended header',
  g: 'a pax global header',
  L: 'a GNU long name',
  K: 'a GNU long link name',
};

/**
 * Decodes one header block found at payload offset `at`. Refuses anything but a regular file with a
 * plain name (no "/", no ".."), a valid checksum and ustar (or GNU) magic. An all-zero block is an error
 * here: the caller knows whether an end of archive is allowed at this point.
 */
export function decodeTarHeader(block: Uint8Array, at: number): TarEntryHeader {
  if (block.byteLength !== TAR_BLOCK_BYTES) fail(`Tar header at offset ${at} is incomplete`);
  if (isZeroBlock(block)) {
    fail(
      at === 0 ? 'Not a payload archive: the first 512 bytes are zero' : `Payload ends (end-of-archive marker) at offset ${at}, where an entry was expected`,
    );
  }
  const storedText = cString(block, 148, 8).trim();
  if (!/^[0-7]{1,7}$/.test(storedText) || parseInt(storedText, 8) !== checksumOf(block)) {
    fail(at === 0 ? 'Not a payload archive: the first 512 bytes are not a tar header (bad checksum)' : `Tar header at offset ${at} has a bad checksum`);
  }
  const magic = cString(block, 257, 6);
  if (magic !== 'ustar' && magic !== 'ustar ') fail(`Tar header at offset ${at} is not in ustar format`);
  const prefix = cString(block, 345, 155);
  const rawName = cString(block, 0, 100);
  const name = prefix ? `${prefix}/${rawName}` : rawName;
  if (name.includes('/') || name.includes('\\') || name.includes('..') || name === '.') {
    fail(`Tar entry name "${name}" at offset ${at} is not allowed (no "/" or "..")`);
  }
  const type = String.fromCharCode(block[156] ?? 0);
  if (type !== '0' && type !== '\0' && type !== '7') {
    fail(`Tar entry "${name}" at offset ${at} is ${TYPE_NAMES[type] ?? `of type "${type}"`}; only regular files are allowed`);
  }
  if (name === '') fail(`Tar entry at offset ${at} has an empty name`);
  return { name, sizeBytes: numeric(block, 124, 12, 'size', at) };
}

/** Checks that entry number `index` (0-based) has the expected name; the message says what was found. */
export function expectEntry(header: TarEntryHeader, index: number, at: number, names: readonly EntryName[] = ENTRY_NAMES): EntryName {
  const expected = names[index];
  if (expected === undefined) fail(`Unexpected tar entry "${header.name}" at offset ${at}: a payload has exactly ${names.length} entries`);
  if (header.name !== expected) {
    const known = (ENTRY_NAMES_V2 as readonly string[]).includes(header.name);
    const what = known ? 'out of order' : 'unexpected';
    fail(`Tar entry ${index + 1} at offset ${at} is "${header.name}" (${what}), expected "${expected}"`);
  }
  return expected;
}
