// Delta applies (issue 18) with the file transport: the booted slot (seed) and the passive slot in one
// disk image; a new image with 5% of it changed. Each test checks the slot byte for byte, and a target
// that refuses any write whose bytes are not the new image's proves nothing unverified is written.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { createLogger } from '../../src/platform/logger.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import {
  applyPayload,
  FileCheckpointStore,
  FileSeedSource,
  openFilePayload,
  type ApplyOptions,
  type ApplyCheckpoint,
  type ApplyResult,
  type ByteRange,
  type OpenPayload,
} from '../../src/payload/apply.ts';
import { createPayload, type ChunkingChoice } from '../../src/payload/create.ts';
import type { Compression } from '../../src/payload/manifest.ts';
import { SAMPLE_WINDOW_BYTES, SAMPLE_WINDOWS } from '../../src/payload/delta-index.ts';
import type { SeedSource } from '../../src/payload/seed-source.ts';
import { ED_PRIVATE, seededBytes, tempDir, trustEd } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('delta-apply-')));
afterAll(() => cleanup());

const MiB = 1 << 20;
const SLOT = 12 * MiB;
const A_AT = MiB;
const B_AT = A_AT + SLOT;
const IMAGE_BYTES = 10 * MiB + 12_345;
const machine = { appId: 'app', runningVersion: '1.0.0', allowDowngrade: false };

/**
 * A new image: 5% of the old one rewritten in 64 KiB runs (as changed files), and `inserted` bytes
 * inserted in the middle (data that moves: by whole 4 KiB blocks in ext4 or erofs, by any amount in squashfs).
 */
function changed(old: Buffer, seed: number, inserted: number): Buffer {
  const out = Buffer.from(old);
  const fresh = seededBytes(old.byteLength, seed);
  const runs = Math.round((0.05 * old.byteLength) / 65536);
  for (let r = 0; r < runs; r++) {
    const at = Math.floor(((((r * 2654435761) >>> 0) / 2 ** 32) * (old.byteLength - 65536)) / 4096) * 4096;
    fresh.copy(out, at, at, at + 65536);
  }
  const cut = 5 * MiB + (inserted % 4096 === 0 ? 0 : 1000);
  return Buffer.concat([out.subarray(0, cut), fresh.subarray(0, inserted), out.subarray(cut, old.byteLength - inserted)]);
}

const OLD = seededBytes(IMAGE_BYTES, 41);
// Moved by 8 KiB (4 KiB-aligned, as a filesystem moves data): both schemes find it; fastcdc below also gets a 3000-byte shift.
const NEW = changed(OLD, 42, 8192);
const NEW_SHIFTED = changed(OLD, 42, 3000);
/** The image the payloads of the running test hold (NEW unless a test says otherwise). */
let current = NEW;

/** A disk image: slot A holds the old image (the seed), slot B the fill. */
async function makeDisk(name: string): Promise<string> {
  const disk = join(dir, `${name}.disk`);
  const bytes = Buffer.alloc(B_AT + SLOT + MiB, 0xa5);
  OLD.copy(bytes, A_AT);
  await writeFile(disk, bytes);
  return disk;
}

async function makePayload(name: string, chunking: ChunkingChoice, compression: Compression = 'none'): Promise<{ path: string; size: number }> {
  const imagePath = join(dir, `${name}.img`);
  const path = join(dir, `${name}.payload`);
  await writeFile(imagePath, current);
  const r = await createPayload({ imagePath, out: path, version: '1.0.1', privateKeyPem: ED_PRIVATE, chunking, compression, blockSizeBytes: 256 * 1024 });
  return { path, size: r.payloadSizeBytes };
}

/** Slot B's target; any write whose bytes are not the new image's is recorded (and still done). */
class CheckedTarget extends FileRegionTarget {
  readonly badWrites: number[] = [];
  override async write(data: Uint8Array, offset: number): Promise<void> {
    if (!Buffer.from(data).equals(current.subarray(offset, offset + data.byteLength))) this.badWrites.push(offset);
    return super.write(data, offset);
  }
  override async writev(chunks: readonly Uint8Array[], offset: number): Promise<void> {
    let at = offset;
    for (const c of chunks) {
      if (!Buffer.from(c).equals(current.subarray(at, at + c.byteLength))) this.badWrites.push(at);
      at += c.byteLength;
    }
    return super.writev(chunks, offset);
  }
}

function logs(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination, pretty: false }), lines };
}

interface Run {
  result: ApplyResult;
  requested: ByteRange[][];
  target: CheckedTarget;
  disk: string;
  lines: string[];
}

async function deltaApply(name: string, payload: string, extra: Partial<ApplyOptions> = {}, source?: OpenPayload, disk?: string): Promise<Run> {
  const diskPath = disk ?? (await makeDisk(name));
  const target = new CheckedTarget(diskPath, B_AT, SLOT);
  const seed = new FileSeedSource(diskPath, A_AT, SLOT);
  const requested: ByteRange[][] = [];
  const open = source ?? openFilePayload(payload);
  const { logger, lines } = logs();
  try {
    const result = await applyPayload(
      (ranges, signal, options) => {
        requested.push(ranges);
        return open(ranges, signal, options);
      },
      { target, keyring: trustEd(), expect: machine, seed, logger, ...extra },
    );
    return { result, requested, target, disk: diskPath, lines };
  } finally {
    await seed.close();
  }
}

async function slotB(disk: string): Promise<Buffer> {
  return (await readFile(disk)).subarray(B_AT, B_AT + current.byteLength);
}

/**
 * An apply of `payload` stopped once 16 blocks are written (resume point every 2 blocks; the first run
 * reads through `firstSource` when given), then run again: the resume point saved and the second run.
 */
async function interruptThenResume(
  name: string,
  payload: string,
  firstSource?: OpenPayload,
): Promise<{ saved: ApplyCheckpoint | undefined; second: Run; disk: string }> {
  const disk = await makeDisk(name);
  const store = new FileCheckpointStore(join(dir, `state-${name}`));
  const controller = new AbortController();
  const first = deltaApply(
    name,
    payload,
    {
      checkpoint: { store, everyBlocks: 2 },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'writing' && p.blocksDone >= 16) controller.abort();
      },
    },
    firstSource,
    disk,
  );
  await expect(first).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  const saved = await store.load();
  expect(saved?.nextBlock).toBeGreaterThan(0);
  const second = await deltaApply(name, payload, { checkpoint: { store } }, undefined, disk);
  expect(await store.load()).toBeUndefined();
  return { saved, second, disk };
}

const figures: string[] = [];
afterAll(() => {
  if (figures.length > 0) console.log(`delta figures (image ${NEW.byteLength} bytes, 5% changed):\n${figures.join('\n')}`);
});

describe('delta apply', () => {
  const cases = [
    ['fixed-4k', 'moved by 8 KiB', NEW],
    ['fastcdc', 'moved by 8 KiB', NEW],
    ['fastcdc', 'moved by 3000 bytes', NEW_SHIFTED],
  ] as const;
  for (const [chunking, moved, image] of cases) {
    it(`writes the new image exactly and fetches a fraction of the payload (${chunking}, ${moved})`, async () => {
      current = image;
      const name = `${chunking}-${image === NEW ? 'a' : 'b'}`;
      const payload = await makePayload(`p-${name}`, chunking);
      const phases: string[] = [];
      const run = await deltaApply(`d-${name}`, payload.path, { onProgress: (p) => phases.push(p.phase) }).finally(() => (current = NEW));
      expect(phases[0]).toBe('indexing-seed');
      expect(phases.at(-1)).toBe('writing');
      expect((await slotB(run.disk)).equals(image)).toBe(true);
      expect(run.target.badWrites).toEqual([]);
      const r = run.result;
      expect(r).toMatchObject({
        delta: true,
        blocksRefetched: 0,
        resumed: false,
        imageSha256Hex: expect.any(String),
        payloadSha256Base64: undefined,
        payloadSizeBytes: payload.size,
      });
      expect(r.payloadBytesFetched).toBe(r.payloadBytesFetched);
      figures.push(
        `  ${chunking}, ${moved}: fetched ${r.payloadBytesFetched} of ${payload.size} payload bytes (${((100 * r.payloadBytesFetched) / payload.size).toFixed(1)}%), reused ${r.bytesReused}`,
      );
      expect(r.payloadBytesFetched).toBeLessThan(0.15 * payload.size);
      expect(r.bytesReused).toBeGreaterThan(0.8 * NEW.byteLength);
      // The probe (and the rest of the header when it is longer), then ONE open for all the missing ranges.
      expect(run.requested[0]).toEqual([{ start: 0, end: 96 * 1024 }]);
      expect(run.requested.length).toBeLessThanOrEqual(3);
      expect(run.requested.filter((ranges) => ranges.length > 1)).toHaveLength(1);
      expect(run.requested.at(-1)?.length).toBeGreaterThan(1);
    });
  }

  it('applies a gzip payload as a delta: blocks that miss a chunk are fetched whole', async () => {
    const payload = await makePayload('p-gzip', 'fixed-4k', 'gzip');
    const run = await deltaApply('d-gzip', payload.path);
    expect((await slotB(run.disk)).equals(NEW)).toBe(true);
    expect(run.target.badWrites).toEqual([]);
    expect(run.result.delta).toBe(true);
    expect(run.result.payloadBytesFetched).toBeLessThan(payload.size);
  });

  it('refetches a block whose seed bytes changed after indexing, and never writes them', async () => {
    const payload = await makePayload('p-corrupt', 'fixed-4k');
    const disk = await makeDisk('d-corrupt');
    const clean = await deltaApply('d-corrupt-clean', payload.path);
    const run = await deltaApply(
      'd-corrupt',
      payload.path,
      {
        // Runs after the seed was indexed, before the first write: the booted slot changes under us.
        async beforeWrite() {
          const bytes = await readFile(disk);
          for (let at = A_AT + 3 * MiB; at < A_AT + 3 * MiB + 300_000; at += 4096) bytes[at + 7] = (bytes[at + 7] ?? 0) ^ 0xff;
          await writeFile(disk, bytes);
        },
      },
      undefined,
      disk,
    );
    expect((await slotB(disk)).equals(NEW)).toBe(true);
    expect(run.target.badWrites).toEqual([]);
    const refetched = run.lines.filter((l) => l.includes('does not match the block table')).length;
    expect(refetched).toBeGreaterThan(0);
    expect(run.result.blocksRefetched).toBe(refetched);
    expect(clean.result.blocksRefetched).toBe(0);
    expect(run.result.payloadBytesFetched).toBeGreaterThan(clean.result.payloadBytesFetched);
    expect(run.result.bytesReused).toBeLessThan(clean.result.bytesReused);
  });

  it('falls back to one full stream when the server ignores Range, and the slot is exact', async () => {
    const payload = await makePayload('p-200', 'fixed-4k');
    const run = await deltaApply('d-200', payload.path, {}, openFilePayload(payload.path, undefined, { ignoresRanges: true }));
    expect((await slotB(run.disk)).equals(NEW)).toBe(true);
    expect(run.result.delta).toBe(false);
    expect(run.requested.at(-1)).toEqual([{ start: 0 }]);
    expect(run.lines.some((l) => l.includes('ignores Range requests'))).toBe(true);
    expect(run.result.payloadSha256Base64).toBeDefined();
  });

  it('resumes an interrupted delta and ends exact', async () => {
    const payload = await makePayload('p-resume', 'fastcdc');
    const { second, disk } = await interruptThenResume('d-resume', payload.path);
    expect((await slotB(disk)).equals(NEW)).toBe(true);
    expect(second.target.badWrites).toEqual([]);
    expect(second.result).toMatchObject({ resumed: true, delta: true });
    expect(second.result.blocksWritten).toBeLessThan(Math.ceil(NEW.byteLength / (256 * 1024)));
  });

  it('applies a version 1 payload (no chunk index) in full, without an extra byte', async () => {
    const payload = await makePayload('p-v1', 'none');
    const run = await deltaApply('d-v1', payload.path);
    expect((await slotB(run.disk)).equals(NEW)).toBe(true);
    expect(run.result).toMatchObject({ delta: false, payloadBytesFetched: payload.size, bytesReused: 0 });
    expect(run.result.payloadSha256Base64).toBeDefined();
  });

  it('fetches the whole payload with DELTA=false', async () => {
    const payload = await makePayload('p-off', 'fixed-4k');
    const run = await deltaApply('d-off', payload.path, { delta: false });
    expect((await slotB(run.disk)).equals(NEW)).toBe(true);
    expect(run.requested).toEqual([[{ start: 0 }]]);
    expect(run.result).toMatchObject({ delta: false, payloadBytesFetched: payload.size, bytesReused: 0 });
  });

  describe('a booted slot that shares nothing with the new image', () => {
    const UNRELATED = seededBytes(IMAGE_BYTES, 77);
    const sha256 = async (path: string) =>
      createHash('sha256')
        .update(await readFile(path))
        .digest('base64');

    it('is not a delta: the rest of the payload is read in order, every byte once, and its SHA-256 checked', async () => {
      current = UNRELATED;
      const payload = await makePayload('p-unrelated', 'fastcdc');
      const run = await deltaApply('d-unrelated', payload.path).finally(() => (current = NEW));
      expect((await slotB(run.disk)).equals(UNRELATED)).toBe(true);
      expect(run.target.badWrites).toEqual([]);
      expect(run.result).toMatchObject({ delta: false, payloadBytesFetched: payload.size, bytesReused: 0, payloadSizeBytes: payload.size });
      expect(run.result.payloadSha256Base64).toBe(await sha256(payload.path));
      // The probe, maybe the rest of the header, then the rest of the payload from where they ended: single ranges only.
      expect(run.requested[0]).toEqual([{ start: 0, end: 96 * 1024 }]);
      expect(run.requested.every((ranges) => ranges.length === 1)).toBe(true);
      expect(run.requested.at(-1)?.[0]?.end).toBeUndefined();
      expect(run.lines.some((l) => l.includes('fetching the whole payload instead'))).toBe(true);
    });

    /** A booted slot of 96 MiB (sampled before it is read) that shares nothing with the images here; counts what is read. */
    function bigUnrelatedSeed(): SeedSource & { bytesRead: number } {
      const pattern = seededBytes(1 << 20, 78);
      return {
        description: 'a big unrelated slot',
        sizeBytes: 96 * MiB,
        bytesRead: 0,
        async read(buffer, offset) {
          const n = Math.max(0, Math.min(buffer.byteLength, this.sizeBytes - offset));
          for (let at = 0; at < n; ) {
            const from = (offset + at) % pattern.byteLength;
            const take = Math.min(n - at, pattern.byteLength - from);
            buffer.set(pattern.subarray(from, from + take), at);
            at += take;
          }
          this.bytesRead += n;
          return n;
        },
      };
    }

    it('gives a large unrelated slot up after its samples, and fetches the whole payload', async () => {
      current = UNRELATED;
      const payload = await makePayload('p-unrelated-big', 'fastcdc');
      const seed = bigUnrelatedSeed();
      const run = await deltaApply('d-unrelated-big', payload.path, { seed }).finally(() => (current = NEW));
      expect((await slotB(run.disk)).equals(UNRELATED)).toBe(true);
      expect(run.result).toMatchObject({ delta: false, payloadBytesFetched: payload.size, bytesReused: 0 });
      expect(run.result.payloadSha256Base64).toBe(await sha256(payload.path));
      expect(seed.bytesRead).toBe(SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES);
    });

    it('still makes a delta of an image mostly zeros: the zero chunks are filled, not fetched', async () => {
      const mostlyZeros = Buffer.concat([seededBytes(2 * MiB, 79), Buffer.alloc(IMAGE_BYTES - 2 * MiB)]);
      current = mostlyZeros;
      try {
        const payload = await makePayload('p-zeros-big', 'fixed-4k');
        const seed = bigUnrelatedSeed();
        const run = await deltaApply('d-zeros-big', payload.path, { seed });
        expect((await slotB(run.disk)).equals(mostlyZeros)).toBe(true);
        expect(run.target.badWrites).toEqual([]);
        expect(run.result.delta).toBe(true);
        expect(run.result.payloadBytesFetched).toBeLessThan(0.3 * payload.size);
        expect(seed.bytesRead).toBe(SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES);
      } finally {
        current = NEW;
      }
    });

    it('resumes an interrupted full pass from its resume point', async () => {
      current = UNRELATED;
      try {
        const payload = await makePayload('p-unrelated-resume', 'fixed-4k');
        // 64 KiB a millisecond: the abort comes while most of the payload is still on its way.
        const file = openFilePayload(payload.path);
        const slow: OpenPayload = async (ranges, signal, options) =>
          Readable.from(
            (async function* () {
              for await (const chunk of (await file(ranges, signal, options)) as AsyncIterable<Buffer>) {
                for (let at = 0; at < chunk.byteLength; at += 65536) {
                  await new Promise((r) => setTimeout(r, 1));
                  yield chunk.subarray(at, at + 65536);
                }
              }
            })(),
          );
        const { saved, second, disk } = await interruptThenResume('d-unrelated-resume', payload.path, slow);
        expect((await slotB(disk)).equals(UNRELATED)).toBe(true);
        expect(second.target.badWrites).toEqual([]);
        expect(second.result).toMatchObject({ resumed: true, delta: false });
        expect(second.requested.at(-1)).toEqual([{ start: saved?.resumeOffset }]);
        expect(second.result.blocksWritten).toBe(Math.ceil(UNRELATED.byteLength / (256 * 1024)) - (saved?.nextBlock ?? 0));
      } finally {
        current = NEW;
      }
    });
  });
});
