// Mutations of a valid payload for fuzzing the reader: bit flips, truncation, insertion, deletion,
// overwrites, and tar surgery with valid checksums (swapped, dropped, duplicated or foreign entries,
// links, path names, wrong sizes, an untrusted signature).

import fc from 'fast-check';

const BLOCK = 512;

/** One tar entry of a payload: its 512-byte header and its body (without padding). */
export interface TarPiece {
  header: Buffer;
  body: Buffer;
}

/** Splits a payload into its entries (stops at the first zero or unreadable header). */
export function splitTar(bytes: Buffer): TarPiece[] {
  const pieces: TarPiece[] = [];
  let at = 0;
  while (at + BLOCK <= bytes.length) {
    const header = bytes.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isSafeInteger(size)) break;
    pieces.push({ header: Buffer.from(header), body: Buffer.from(bytes.subarray(at + BLOCK, at + BLOCK + size)) });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return pieces;
}

/** Rewrites a header's checksum after an edit. */
export function fixChecksum(header: Buffer): Buffer {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

/** Joins entries back into an archive, each header's size set to its body, with a two-block trailer. */
export function joinTar(pieces: readonly TarPiece[], keepSizes = false): Buffer {
  const parts: Buffer[] = [];
  for (const { header, body } of pieces) {
    const h = Buffer.from(header);
    if (!keepSizes) {
      h.write(`${body.length.toString(8).padStart(11, '0')} `, 124, 12, 'latin1');
      fixChecksum(h);
    }
    parts.push(h, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** What a mutation may draw on: the valid payload, another valid payload by the same key, and an untrusted re-signing. */
export interface MutationSources {
  payload: Buffer;
  /** A valid payload of another image, signed by the same trusted key. */
  other: Buffer;
  /** The payload's signatures entry re-made with a key that is not trusted. */
  untrustedSignatures: Buffer;
}

export type PayloadMutation = { name: string; apply(s: MutationSources): Buffer };

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const pos = (len: number, f: number) => Math.floor(f * len);

/** A mutation of a valid payload, named for the report. */
export const payloadMutationArb: fc.Arbitrary<PayloadMutation> = fc.oneof(
  fc.array(fc.tuple(frac, fc.integer({ min: 0, max: 7 }), fc.boolean()), { minLength: 1, maxLength: 8 }).map((flips) => ({
    name: `flip ${flips.length} bit(s)`,
    apply: ({ payload }: MutationSources) => {
      const out = Buffer.from(payload);
      const header = Math.min(out.length, 4 * BLOCK + 4096);
      for (const [f, bit, inHeader] of flips) {
        const i = pos(inHeader ? header : out.length, f);
        out[i] = (out[i] ?? 0) ^ (1 << bit);
      }
      return out;
    },
  })),
  frac.map((f) => ({ name: 'truncate', apply: ({ payload }: MutationSources) => payload.subarray(0, pos(payload.length, f)) })),
  fc.tuple(frac, fc.uint8Array({ minLength: 1, maxLength: 700 })).map(([f, bytes]) => ({
    name: `insert ${bytes.length} byte(s)`,
    apply: ({ payload }: MutationSources) => Buffer.concat([payload.subarray(0, pos(payload.length, f)), bytes, payload.subarray(pos(payload.length, f))]),
  })),
  fc.tuple(frac, fc.integer({ min: 1, max: 2000 })).map(([f, n]) => ({
    name: `delete ${n} byte(s)`,
    apply: ({ payload }: MutationSources) => Buffer.concat([payload.subarray(0, pos(payload.length, f)), payload.subarray(pos(payload.length, f) + n)]),
  })),
  fc.tuple(frac, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([f, bytes]) => ({
    name: `overwrite ${bytes.length} byte(s)`,
    apply: ({ payload }: MutationSources) => {
      const out = Buffer.from(payload);
      out.set(bytes.subarray(0, Math.max(0, out.length - pos(out.length, f))), pos(out.length, f));
      return out;
    },
  })),
  fc
    .tuple(fc.nat(3), fc.nat(3))
    .filter(([a, b]) => a !== b)
    .map(([a, b]) => ({
      name: `swap tar entries ${a} and ${b}`,
      apply: ({ payload }: MutationSources) => {
        const p = splitTar(payload);
        [p[a], p[b]] = [p[b] as TarPiece, p[a] as TarPiece];
        return joinTar(p, true);
      },
    })),
  fc.tuple(fc.nat(3), fc.boolean()).map(([i, duplicate]) => ({
    name: `${duplicate ? 'duplicate' : 'drop'} tar entry ${i}`,
    apply: ({ payload }: MutationSources) => {
      const p = splitTar(payload);
      if (duplicate) p.splice(i, 0, p[i] as TarPiece);
      else p.splice(i, 1);
      return joinTar(p, true);
    },
  })),
  fc.subarray([0, 1, 2, 3], { minLength: 1, maxLength: 3 }).map((fromOther) => ({
    name: `take entries ${fromOther.join(',')} from another signed payload`,
    apply: ({ payload, other }: MutationSources) => {
      const mine = splitTar(payload);
      const theirs = splitTar(other);
      return joinTar(
        mine.map((piece, i) => (fromOther.includes(i) ? (theirs[i] as TarPiece) : piece)),
        true,
      );
    },
  })),
  fc.tuple(fc.nat(3), fc.constantFrom('1', '2', '3', '5', 'x', 'L', 'g')).map(([i, type]) => ({
    name: `make tar entry ${i} of type "${type}"`,
    apply: ({ payload }: MutationSources) => {
      const p = splitTar(payload);
      const h = (p[i] as TarPiece).header;
      h.write(type, 156, 1, 'latin1');
      h.write('/etc/shadow\0', 157, 12, 'latin1');
      fixChecksum(h);
      return joinTar(p, true);
    },
  })),
  fc
    .tuple(fc.nat(3), fc.constantFrom('../manifest.json', '/manifest.json', 'a/manifest.json', '..', '.', 'manifest.json\\x', 'MANIFEST.JSON', ''))
    .map(([i, name]) => ({
      name: `rename tar entry ${i} to "${name}"`,
      apply: ({ payload }: MutationSources) => {
        const p = splitTar(payload);
        const h = (p[i] as TarPiece).header;
        h.fill(0, 0, 100);
        h.write(name, 0, 100, 'latin1');
        fixChecksum(h);
        return joinTar(p, true);
      },
    })),
  fc.tuple(fc.nat(3), fc.integer({ min: -600, max: 600 })).map(([i, delta]) => ({
    name: `change the size of tar entry ${i} by ${delta}`,
    apply: ({ payload }: MutationSources) => {
      const p = splitTar(payload);
      const piece = p[i] as TarPiece;
      const size = Math.max(0, piece.body.length + delta);
      piece.header.write(`${size.toString(8).padStart(11, '0')} `, 124, 12, 'latin1');
      fixChecksum(piece.header);
      return joinTar(p, true);
    },
  })),
  fc.constant({
    name: 'signatures by an untrusted key',
    apply: ({ payload, untrustedSignatures }: MutationSources) => {
      const p = splitTar(payload);
      (p[1] as TarPiece).body = untrustedSignatures;
      return joinTar(p);
    },
  }),
);
