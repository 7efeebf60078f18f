// The payload manifest: the first tar entry, the bytes every signature covers. Its schema (zod),
// the format limits, and the pure checks an apply makes against it (app id, board, version, size).

import { z } from 'zod';
import { UpdateEngineError } from '../errors.ts';
import { compareVersions, isVersion } from '../config/values.ts';

/** Format version written by default (delta-capable); readers accept READABLE_FORMAT_VERSIONS and refuse any other. */
export const PAYLOAD_FORMAT_VERSION = 2;
/** The format versions this engine reads: 1 (no chunk index) and 2 (with one). */
export const READABLE_FORMAT_VERSIONS = [1, 2] as const;

/**
 * How the chunk index of a formatVersion 2 payload cuts the image: fixed 4 KiB pieces at 4 KiB offsets
 * (filesystems that keep data 4 KiB-aligned: ext4, erofs, btrfs), or FastCDC content-defined chunks of
 * 4 KiB min, 16 KiB average, 64 KiB max (src/payload/chunker.ts; anything else, e.g. squashfs).
 */
export const CHUNK_SCHEMES = ['fixed-4k', 'fastcdc-4k-16k-64k'] as const;
export type ChunkScheme = (typeof CHUNK_SCHEMES)[number];
/** The manifest entry may not be larger than this (checked from the tar header, before reading it). */
export const MANIFEST_MAX_BYTES = 16 * 1024;
export const MIN_BLOCK_SIZE_BYTES = 4096;
export const MAX_BLOCK_SIZE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE_BYTES = 1024 * 1024;
/** Caps the block table at 9 MiB (36 bytes per block). */
export const MAX_BLOCK_COUNT = 262_144;

export const COMPRESSIONS = ['none', 'gzip', 'brotli'] as const;
/** How each block is stored: as is, or compressed on its own (gzip or brotli). */
export type Compression = (typeof COMPRESSIONS)[number];

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (SHA-256)');
const label = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces');

export const manifestSchema = z
  .strictObject({
    /** 1 (no chunk index) or 2 (a chunk index for delta updates: chunkScheme, chunkCount, chunkIndexSha256). */
    formatVersion: z.union([z.literal(1), z.literal(2)], { error: 'expected 1 or 2' }),
    /** The OS version the image holds (semver-like, as VERSION). */
    version: z.string().max(64).refine(isVersion, 'expected a semver-like version, e.g. 3374.2.0'),
    /** Omaha app id the payload is for; absent = any. */
    appId: label.optional(),
    /** Board the payload is for; absent = any. */
    board: label.optional(),
    /** When the image was built (Unix seconds, UTC). Absent in older payloads; engines before issue 14 refuse payloads that carry it. */
    buildTimeSeconds: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** Size of the image in bytes. */
    imageSize: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    /** Size of a block in bytes (a power of two, 4 KiB to 64 MiB); the last block may be shorter. */
    blockSize: z
      .number()
      .int()
      .min(MIN_BLOCK_SIZE_BYTES)
      .max(MAX_BLOCK_SIZE_BYTES)
      .refine((n) => (n & (n - 1)) === 0, 'expected a power of two'),
    /** ceil(imageSize / blockSize). */
    blockCount: z.number().int().min(1).max(MAX_BLOCK_COUNT),
    /** How each block is stored in the image data entry. */
    compression: z.enum(COMPRESSIONS),
    /** SHA-256 of the whole image (hex). */
    imageSha256: sha256Hex,
    /** SHA-256 of the block table entry's bytes (hex). */
    blockTableSha256: sha256Hex,
    /** formatVersion 2 only: how the chunk index cuts the image. */
    chunkScheme: z.enum(CHUNK_SCHEMES).optional(),
    /** formatVersion 2 only: the number of chunks (20-byte records) in the chunk index. */
    chunkCount: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    /** formatVersion 2 only: SHA-256 of the chunk index entry's bytes (hex). */
    chunkIndexSha256: sha256Hex.optional(),
  })
  .refine((m) => m.blockCount === Math.ceil(m.imageSize / m.blockSize), {
    message: 'blockCount must be ceil(imageSize / blockSize)',
    path: ['blockCount'],
  })
  .refine((m) => [m.chunkScheme, m.chunkCount, m.chunkIndexSha256].every((field) => (field !== undefined) === (m.formatVersion === 2)), {
    message: 'formatVersion 2 needs chunkScheme, chunkCount and chunkIndexSha256; formatVersion 1 may not carry them',
    path: ['formatVersion'],
  })
  .refine((m) => m.chunkCount === undefined || m.chunkCount <= Math.floor(m.imageSize / 2048) + 1, {
    message: 'chunkCount may be at most imageSize / 2048 + 1',
    path: ['chunkCount'],
  });

/** What a payload says about itself (the first tar entry, JSON). */
export type PayloadManifest = z.infer<typeof manifestSchema>;

/** A manifest of a later format than this engine reads: say so plainly (the fix is a newer engine). */
function refuseUnknownVersion(json: unknown): void {
  const version = typeof json === 'object' && json !== null ? (json as { formatVersion?: unknown }).formatVersion : undefined;
  const max = Math.max(...READABLE_FORMAT_VERSIONS);
  if (typeof version === 'number' && Number.isInteger(version) && version > max) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_FORMAT',
      `Payload format version ${version} is newer than this engine reads (${READABLE_FORMAT_VERSIONS.join(' and ')}): update update-engine first`,
    );
  }
}

/** Parses and validates manifest bytes; ERR_PAYLOAD_FORMAT with the field and reason otherwise. */
export function parseManifest(bytes: Uint8Array): PayloadManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload manifest is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  refuseUnknownVersion(json);
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the manifest';
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload manifest is invalid: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The exact bytes written (and signed) for a manifest: pretty JSON with a fixed key order, newline-terminated. */
export function serializeManifest(m: PayloadManifest): Buffer {
  const ordered: Record<string, unknown> = { formatVersion: m.formatVersion, version: m.version };
  if (m.appId !== undefined) ordered.appId = m.appId;
  if (m.board !== undefined) ordered.board = m.board;
  if (m.buildTimeSeconds !== undefined) ordered.buildTimeSeconds = m.buildTimeSeconds;
  Object.assign(ordered, {
    imageSize: m.imageSize,
    blockSize: m.blockSize,
    blockCount: m.blockCount,
    compression: m.compression,
    imageSha256: m.imageSha256,
    blockTableSha256: m.blockTableSha256,
  });
  if (m.chunkScheme !== undefined) ordered.chunkScheme = m.chunkScheme;
  if (m.chunkCount !== undefined) ordered.chunkCount = m.chunkCount;
  if (m.chunkIndexSha256 !== undefined) ordered.chunkIndexSha256 = m.chunkIndexSha256;
  const bytes = Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8');
  if (bytes.byteLength > MANIFEST_MAX_BYTES) {
    throw new UpdateEngineError('ERR_PAYLOAD_FORMAT', `Payload manifest would be ${bytes.byteLength} bytes, over the ${MANIFEST_MAX_BYTES}-byte cap`);
  }
  return bytes;
}

/** The length in bytes of image block `index` (the last one may be shorter). */
export function imageBlockLength(m: Pick<PayloadManifest, 'imageSize' | 'blockSize'>, index: number): number {
  return Math.min(m.blockSize, m.imageSize - index * m.blockSize);
}

/** What the machine applying a payload is, and what it accepts. */
export interface PayloadExpectation {
  appId: string;
  board?: string | undefined;
  runningVersion?: string | undefined;
  /** Build time of the running version (Unix seconds), when known: an older payload is a downgrade. */
  runningBuildTimeSeconds?: number | undefined;
  allowDowngrade: boolean;
}

/** The outcome of the checks that passed with a note (for the log), e.g. a downgrade that was allowed. */
export interface ExpectationNotes {
  downgradeAllowed: boolean;
  versionUnchecked: boolean;
}

/** Checks app id, board and version; ERR_PAYLOAD_TARGET / ERR_PAYLOAD_DOWNGRADE with both values quoted. */
export function checkExpectation(m: PayloadManifest, expect: PayloadExpectation): ExpectationNotes {
  if (m.appId !== undefined && m.appId.toLowerCase() !== expect.appId.toLowerCase()) {
    throw new UpdateEngineError('ERR_PAYLOAD_TARGET', `Payload is for app id "${m.appId}", this machine is "${expect.appId}"`);
  }
  if (m.board !== undefined && m.board !== expect.board) {
    const mine = expect.board === undefined ? 'has no BOARD set' : `is "${expect.board}"`;
    throw new UpdateEngineError('ERR_PAYLOAD_TARGET', `Payload is for board "${m.board}", this machine ${mine}`);
  }
  const staleBuild = m.buildTimeSeconds !== undefined && expect.runningBuildTimeSeconds !== undefined && m.buildTimeSeconds < expect.runningBuildTimeSeconds;
  if (staleBuild && !expect.allowDowngrade) {
    const iso = (s: number) => new Date(s * 1000).toISOString();
    throw new UpdateEngineError(
      'ERR_PAYLOAD_DOWNGRADE',
      `Payload version "${m.version}" was built ${iso(m.buildTimeSeconds as number)}, before the running version (built ${iso(expect.runningBuildTimeSeconds as number)}) (set ALLOW_DOWNGRADE=true to accept it)`,
    );
  }
  if (expect.runningVersion === undefined) return { downgradeAllowed: staleBuild, versionUnchecked: true };
  if (!isVersion(expect.runningVersion)) {
    throw new UpdateEngineError(
      'ERR_CONFIG_VALUE',
      `The running version "${expect.runningVersion}" is not semver-like: cannot compare it with the payload's "${m.version}"`,
    );
  }
  const newer = compareVersions(m.version, expect.runningVersion) > 0;
  if (newer) return { downgradeAllowed: staleBuild, versionUnchecked: false };
  if (!expect.allowDowngrade) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_DOWNGRADE',
      `Payload version "${m.version}" is not newer than the running version "${expect.runningVersion}" (set ALLOW_DOWNGRADE=true to accept it)`,
    );
  }
  return { downgradeAllowed: true, versionUnchecked: false };
}

/** ERR_PAYLOAD_TOO_LARGE when the image does not fit the target. */
export function checkFits(m: PayloadManifest, targetSizeBytes: number, targetDescription: string): void {
  if (m.imageSize > targetSizeBytes) {
    throw new UpdateEngineError(
      'ERR_PAYLOAD_TOO_LARGE',
      `Image of ${m.imageSize} bytes does not fit write target "${targetDescription}" (${targetSizeBytes} bytes)`,
    );
  }
}
