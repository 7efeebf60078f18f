// Shared by the payload tests: the test-only keys, temp dirs, seeded images, payloads built from parts
// (to craft bad ones), tar surgery (flip a bit, rewrite a header size), and region checks.

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { REPO_ROOT } from '../helpers/cli.ts';
import { encodeBlockTable } from '../../src/payload/block-table.ts';
import { serializeManifest, type PayloadManifest } from '../../src/payload/manifest.ts';
import { writePayloadArchive } from '../../src/payload/payload-writer.ts';
import { serializeSignatures, type PayloadSignature } from '../../src/payload/signature.ts';
import { signWithPrivateKey } from '../../src/payload/signers.ts';
import { keyringFromPems } from '../../src/payload/keyring.ts';

const KEYS = join(REPO_ROOT, 'fixtures/keys');
export const keyPath = (name: string) => join(KEYS, name);
export const key = (name: string) => readFileSync(keyPath(name), 'utf8');
export const ED_PRIVATE = key('test-only-ed25519.pem');
export const ED_PUBLIC = key('test-only-ed25519.pub.pem');
export const ED2_PRIVATE = key('test-only-ed25519-second.pem');
export const ED2_PUBLIC = key('test-only-ed25519-second.pub.pem');
export const RSA_PRIVATE = key('test-only-rsa.pem');
export const RSA_PUBLIC = key('test-only-rsa.pub.pem');
export const trustEd = () => keyringFromPems([ED_PUBLIC]);

export async function tempDir(prefix = 'payload-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (xorshift32), with some runs of zeros so compression has work. */
export function seededBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(size / 4) * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.byteLength; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = 8192; i + 4096 <= size; i += 16384) out.fill(0, i, i + 4096);
  return out.subarray(0, size);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface PartsOptions {
  image: Buffer;
  blockSize: number;
  compression?: PayloadManifest['compression'];
  version?: string;
  appId?: string;
  board?: string;
  /** Private keys to sign with (default: the Ed25519 test key). */
  signWith?: string[];
  /** Edit the manifest before it is serialized and signed. */
  editManifest?(m: PayloadManifest): PayloadManifest;
  /** Replace the stored bytes of some blocks (the table records their real stored length). */
  storedOverride?(index: number, stored: Buffer): Buffer;
  signatures?(manifestBytes: Buffer, made: PayloadSignature[]): PayloadSignature[];
}

/** Builds a payload from parts with the project's own writer, so that each part can be bent. */
export async function buildPayload(out: string, o: PartsOptions): Promise<{ manifest: PayloadManifest; dataOffset: number; sizeBytes: number }> {
  const compression = o.compression ?? 'none';
  const count = Math.ceil(o.image.byteLength / o.blockSize);
  const blocks = Array.from({ length: count }, (_, i) => o.image.subarray(i * o.blockSize, Math.min(o.image.byteLength, (i + 1) * o.blockSize)));
  const stored = blocks.map((b, i) => {
    const s = compression === 'gzip' ? gzipSync(b) : compression === 'brotli' ? brotliCompressSync(b) : Buffer.from(b);
    return o.storedOverride ? o.storedOverride(i, s) : s;
  });
  const table = encodeBlockTable(
    blocks.map((b) => createHash('sha256').update(b).digest()),
    stored.map((s) => s.byteLength),
  );
  let manifest: PayloadManifest = {
    formatVersion: 1,
    version: o.version ?? '2.0.0',
    ...(o.appId !== undefined && { appId: o.appId }),
    ...(o.board !== undefined && { board: o.board }),
    imageSize: o.image.byteLength,
    blockSize: o.blockSize,
    blockCount: count,
    compression,
    imageSha256: sha256Hex(o.image),
    blockTableSha256: sha256Hex(table),
  };
  if (o.editManifest) manifest = o.editManifest(manifest);
  const manifestBytes = serializeManifest(manifest);
  let signatures = (o.signWith ?? [ED_PRIVATE]).map((pem) => signWithPrivateKey(manifestBytes, pem));
  if (o.signatures) signatures = o.signatures(manifestBytes, signatures);
  const written = await writePayloadArchive(out, {
    manifestBytes,
    signaturesBytes: serializeSignatures(signatures),
    tableBytes: table,
    dataSizeBytes: stored.reduce((a, s) => a + s.byteLength, 0),
    writeData: async (sink) => {
      for (const s of stored) await sink(s);
    },
  });
  return { manifest, dataOffset: written.dataOffset, sizeBytes: written.sizeBytes };
}

/** Flips bit `bit` of the byte at `offset` of a file. */
export async function flipBit(path: string, offset: number, bit = 0): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ (1 << bit);
  await writeFile(path, bytes);
}

/** Rewrites the size field of the tar header at `headerOffset` (and its checksum). */
export async function setTarSize(path: string, headerOffset: number, size: number): Promise<void> {
  const bytes = await readFile(path);
  const h = bytes.subarray(headerOffset, headerOffset + 512);
  h.write(`${size.toString(8).padStart(11, '0')} `, 124, 12, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  await writeFile(path, bytes);
}

/** A disk image file of `size` bytes filled with `fill`. */
export async function makeDisk(path: string, size: number, fill = 0xa5): Promise<void> {
  await writeFile(path, Buffer.alloc(size, fill));
}

/**
 * Checks that every block of the region holds either the fill (never written) or the right image block,
 * and that nothing outside the region changed. Returns the number of image blocks found written.
 */
export async function checkRegion(diskPath: string, regionOffset: number, regionSize: number, image: Buffer, blockSize: number, fill = 0xa5): Promise<number> {
  const disk = await readFile(diskPath);
  const untouched = (from: number, to: number) => disk.subarray(from, to).every((b) => b === fill);
  if (!untouched(0, regionOffset) || !untouched(regionOffset + regionSize, disk.byteLength)) throw new Error('bytes outside the region changed');
  let written = 0;
  for (let at = 0; at < regionSize; at += blockSize) {
    const got = disk.subarray(regionOffset + at, regionOffset + Math.min(regionSize, at + blockSize));
    const want = image.subarray(at, Math.min(image.byteLength, at + blockSize));
    if (want.byteLength > 0 && got.subarray(0, want.byteLength).equals(want) && got.subarray(want.byteLength).every((b) => b === fill)) written++;
    else if (!got.every((b) => b === fill)) throw new Error(`block at ${at} holds bytes that are neither the image nor the fill`);
  }
  return written;
}

export interface TarEntrySpec {
  name: string;
  body?: Buffer;
  type?: 'file' | 'symlink' | 'directory' | 'link';
  linkname?: string;
}

/** The entries of a tar file (name and body), in order, read with tar-stream. */
export async function tarEntries(path: string): Promise<TarEntrySpec[]> {
  const extract = tar.extract();
  const entries: TarEntrySpec[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      entries.push({ name: entry.header.name, body: Buffer.concat(chunks) });
    }
  })();
  extract.end(await readFile(path));
  await done;
  return entries;
}

/** Writes a tar file with exactly these entries, with tar-stream. */
export async function writeTar(path: string, entries: TarEntrySpec[]): Promise<void> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') pack.entry({ name: e.name, size: e.body?.byteLength ?? 0, mtime: new Date(0) }, e.body ?? Buffer.alloc(0));
    else pack.entry({ name: e.name, type, linkname: e.linkname ?? 'target', mtime: new Date(0) });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  await writeFile(path, Buffer.concat(chunks));
}
