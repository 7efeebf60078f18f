// Round trips: createPayload -> applyPayload onto a region of a disk image, byte-compared with the
// source image, with the bytes around the region untouched; every compression, with and without read-back.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { applyPayload, FileCheckpointStore, openFilePayload, type ApplyProgress, type ByteRange, type OpenPayload } from '../../src/payload/apply.ts';
import { createPayload } from '../../src/payload/create.ts';
import { COMPRESSIONS } from '../../src/payload/manifest.ts';
import { ED_PRIVATE, buildPayload, checkRegion, makeDisk, seededBytes, sha256Hex, tempDir, trustEd } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('apply-test-')));
afterAll(() => cleanup());

const REGION_OFFSET = 1 << 20;
const REGION_SIZE = 3 << 20;
const expectMachine = { appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', board: 'amd64-usr', runningVersion: '1.0.0', allowDowngrade: false };

describe('applyPayload round trip', () => {
  for (const compression of COMPRESSIONS) {
    for (const readBack of [true, false]) {
      it(`writes the image exactly (${compression}, read-back ${readBack ? 'on' : 'off'})`, async () => {
        const image = seededBytes(2_500_000 + 123, compression.length + (readBack ? 10 : 20));
        const imagePath = join(dir, `img-${compression}-${readBack}.bin`);
        const payloadPath = join(dir, `p-${compression}-${readBack}.payload`);
        const diskPath = join(dir, `disk-${compression}-${readBack}.img`);
        await writeFile(imagePath, image);
        const created = await createPayload({
          imagePath,
          out: payloadPath,
          version: '1.0.1',
          privateKeyPem: ED_PRIVATE,
          blockSizeBytes: 65536,
          compression,
          appId: expectMachine.appId,
          board: 'amd64-usr',
        });
        await makeDisk(diskPath, REGION_OFFSET + REGION_SIZE + (1 << 20));
        const progress: ApplyProgress[] = [];
        const requested: ByteRange[][] = [];
        const open = openFilePayload(payloadPath);
        const result = await applyPayload(
          (ranges, signal) => {
            requested.push(ranges);
            return open(ranges, signal);
          },
          {
            target: new FileRegionTarget(diskPath, REGION_OFFSET, REGION_SIZE),
            keyring: trustEd(),
            expect: expectMachine,
            readBack,
            syncEveryBytes: 256 * 1024,
            onProgress: (p) => progress.push(p),
          },
        );
        const payload = await readFile(payloadPath);
        expect(requested).toEqual([[{ start: 0 }]]);
        expect(result).toMatchObject({
          payloadSizeBytes: payload.byteLength,
          payloadSha256Base64: createHash('sha256').update(payload).digest('base64'),
          imageSha256Hex: sha256Hex(image),
          resumed: false,
          payloadBytesFetched: payload.byteLength,
          blocksWritten: 39,
        });
        expect(result.payloadSha256Base64).toBe(created.payloadSha256Base64);
        expect(result.manifest).toEqual(created.manifest);
        expect(await checkRegion(diskPath, REGION_OFFSET, REGION_SIZE, image, 65536)).toBe(39);
        const last = progress.at(-1);
        expect(last).toMatchObject({ phase: 'writing', blocksDone: 39, blocksTotal: 39, imageBytesDone: image.byteLength, imageBytesTotal: image.byteLength });
        expect(progress.map((p) => p.blocksDone)).toEqual([...progress.map((p) => p.blocksDone)].sort((a, b) => a - b));
      });
    }
  }

  it('accepts a payload for any machine (no app id, no board) and an RSA signature', async () => {
    const { RSA_PRIVATE, RSA_PUBLIC } = await import('./helpers.ts');
    const { keyringFromPems } = await import('../../src/payload/keyring.ts');
    const image = seededBytes(300_000, 77);
    const imagePath = join(dir, 'any.bin');
    const payloadPath = join(dir, 'any.payload');
    const diskPath = join(dir, 'any.img');
    await writeFile(imagePath, image);
    await createPayload({ imagePath, out: payloadPath, version: '9.9.9', privateKeyPem: RSA_PRIVATE, blockSizeBytes: 4096 });
    await makeDisk(diskPath, 400_000);
    const result = await applyPayload(openFilePayload(payloadPath), {
      target: new FileRegionTarget(diskPath, 0, 400_000),
      keyring: keyringFromPems([RSA_PUBLIC]),
      expect: { appId: 'some-other-app', allowDowngrade: false },
    });
    expect(result.imageSha256Hex).toBe(sha256Hex(image));
    expect(await checkRegion(diskPath, 0, 400_000, image, 4096)).toBe(74);
  });
});

describe('applyPayload resume', () => {
  const BLOCK = 8192;
  const image = seededBytes(60 * BLOCK + 777, 4242);
  let payloadPath: string;
  let payloadSize: number;
  let dataOffset: number;
  const regionOffset = 32768;
  const regionSize = 64 * BLOCK;

  beforeAll(async () => {
    const imagePath = join(dir, 'resume.bin');
    payloadPath = join(dir, 'resume.payload');
    await writeFile(imagePath, image);
    const created = await createPayload({
      imagePath,
      out: payloadPath,
      version: '2.0.0',
      privateKeyPem: ED_PRIVATE,
      blockSizeBytes: BLOCK,
      compression: 'gzip',
    });
    payloadSize = created.payloadSizeBytes;
    dataOffset = created.dataOffset;
  });

  /** An OpenPayload over the file that records the ranges asked for and, if `failAfter` is set, breaks the stream after that many bytes. */
  function source(log: ByteRange[][], failAfter?: number): OpenPayload {
    const open = openFilePayload(payloadPath, 4096);
    return async (ranges, signal) => {
      log.push(ranges);
      const inner = await open(ranges, signal);
      if (failAfter === undefined) return inner;
      return Readable.from(
        (async function* () {
          let sent = 0;
          for await (const chunk of inner as AsyncIterable<Buffer>) {
            if (sent + chunk.byteLength > failAfter) {
              yield chunk.subarray(0, failAfter - sent);
              throw new Error('connection reset by peer');
            }
            sent += chunk.byteLength;
            yield chunk;
          }
        })(),
      );
    };
  }

  async function setup(name: string) {
    const diskPath = join(dir, `${name}.img`);
    await makeDisk(diskPath, regionOffset + regionSize + 32768);
    const store = new FileCheckpointStore(join(dir, `${name}-state`));
    const target = () => new FileRegionTarget(diskPath, regionOffset, regionSize);
    const options = () => ({
      target: target(),
      keyring: trustEd(),
      expect: { appId: 'a', allowDowngrade: false },
      checkpoint: { store, everyBlocks: 3 },
      syncEveryBytes: 2 * BLOCK,
    });
    return { diskPath, store, options };
  }

  let seed = 99;
  const nextOffset = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return dataOffset + 20_000 + (seed % (payloadSize - dataOffset - 22_000));
  };

  for (let round = 0; round < 4; round++) {
    it(`resumes after a broken transfer at a seeded random offset (round ${round + 1}) with identical bytes`, async () => {
      const cut = nextOffset();
      const { diskPath, store, options } = await setup(`resume-${round}`);
      const log: ByteRange[][] = [];
      await expect(applyPayload(source(log, cut), options())).rejects.toMatchObject({
        code: 'ERR_DOWNLOAD_TRANSFER',
        message: 'Reading the payload failed: connection reset by peer',
      });
      const cp = await store.load();
      expect(cp).toBeDefined();
      expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBeGreaterThanOrEqual(cp?.nextBlock ?? 0);

      const result = await applyPayload(source(log), options());
      expect(log[1]).toEqual([{ start: 0, end: dataOffset }, { start: cp?.resumeOffset }]);
      expect(result).toMatchObject({ resumed: true, payloadSha256Base64: undefined, imageSha256Hex: sha256Hex(image), payloadSizeBytes: payloadSize });
      expect(result.payloadBytesFetched).toBe(dataOffset + payloadSize - (cp?.resumeOffset ?? 0));
      expect(result.blocksWritten).toBe(61 - (cp?.nextBlock ?? 0));
      expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBe(61);
      expect(await store.load()).toBeUndefined();
    });
  }

  it('stops at a block boundary on abort, keeps a resume point, and resumes from it', async () => {
    const { diskPath, store, options } = await setup('abort');
    const controller = new AbortController();
    const log: ByteRange[][] = [];
    const error = await applyPayload(source(log), {
      ...options(),
      maxInFlightBytes: 4 * BLOCK,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.blocksDone >= 20) controller.abort(new Error('SIGTERM'));
      },
    }).catch((e: unknown) => e as Error & { code: string });
    expect(error).toMatchObject({
      code: 'ERR_ABORTED',
      message: expect.stringMatching(/^Payload apply stopped with blocks \[0, \d+\) on the target \(resume point saved\)$/),
    });
    const cp = await store.load();
    expect(cp?.nextBlock).toBeGreaterThanOrEqual(20);
    expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBeGreaterThanOrEqual(cp?.nextBlock ?? 0);
    const result = await applyPayload(source(log), options());
    expect(result.resumed).toBe(true);
    expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBe(61);
  });

  it('an abort while the transport stalls (and ignores the abort) ends the apply, resumable', async () => {
    const { diskPath, store, options } = await setup('stalled');
    const controller = new AbortController();
    const open = openFilePayload(payloadPath, 4096);
    const stalling: OpenPayload = async (ranges, signal) => {
      const inner = await open(ranges, signal);
      return Readable.from(
        (async function* () {
          let sent = 0;
          for await (const chunk of inner as AsyncIterable<Buffer>) {
            yield chunk;
            sent += chunk.byteLength;
            if (sent > dataOffset + 40_000) {
              controller.abort(new Error('SIGTERM'));
              await new Promise(() => undefined); // a stalled connection that ignores the abort: nothing more, ever
            }
          }
        })(),
      );
    };
    await expect(applyPayload(stalling, { ...options(), signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const cp = await store.load();
    expect(cp?.nextBlock).toBeGreaterThan(0);
    expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBeGreaterThanOrEqual(cp?.nextBlock ?? 0);
  });

  it('starts over when a block kept on the target was changed since', async () => {
    const { diskPath, store, options } = await setup('tampered');
    const log: ByteRange[][] = [];
    await expect(applyPayload(source(log, dataOffset + 30_000), options())).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_TRANSFER' });
    expect((await store.load())?.nextBlock).toBeGreaterThan(1);
    const disk = await readFile(diskPath);
    disk.writeUInt8((disk[regionOffset + BLOCK + 5] ?? 0) ^ 0x10, regionOffset + BLOCK + 5);
    await writeFile(diskPath, disk);
    const result = await applyPayload(source(log), options());
    expect(log.slice(1)).toEqual([[{ start: 0, end: dataOffset }, { start: expect.any(Number) }], [{ start: 0 }]]);
    expect(result).toMatchObject({ resumed: false, imageSha256Hex: sha256Hex(image) });
    expect(result.payloadSha256Base64).toBeDefined();
    expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBe(61);
  });

  it('starts over when the resume point belongs to another payload', async () => {
    const { diskPath, store, options } = await setup('other');
    await store.save({
      formatVersion: 1,
      manifestSha256: 'f'.repeat(64),
      targetDescription: options().target.description,
      dataOffset,
      nextBlock: 10,
      resumeOffset: dataOffset + 4000,
      savedAt: 'x',
    });
    const log: ByteRange[][] = [];
    const result = await applyPayload(source(log), options());
    expect(log).toEqual([[{ start: 0, end: dataOffset }, { start: dataOffset + 4000 }], [{ start: 0 }]]);
    expect(result.resumed).toBe(false);
    expect(await checkRegion(diskPath, regionOffset, regionSize, image, BLOCK)).toBe(61);
  });

  it('ignores a resume point saved for another target', async () => {
    const { store, options } = await setup('elsewhere');
    await store.save({
      formatVersion: 1,
      manifestSha256: 'f'.repeat(64),
      targetDescription: '/dev/other',
      dataOffset,
      nextBlock: 10,
      resumeOffset: dataOffset + 4000,
      savedAt: 'x',
    });
    const log: ByteRange[][] = [];
    expect((await applyPayload(source(log), options())).resumed).toBe(false);
    expect(log).toEqual([[{ start: 0 }]]);
  });
});

describe('applyPayload memory and the image hash', () => {
  const BLOCK = 16384;
  const image = seededBytes(96 * BLOCK + 1234, 777);
  const regionSize = 100 * BLOCK;

  /** Counts what the target takes, remembers which memory the blocks come from, and syncs slowly. */
  class SlowObservedTarget extends FileRegionTarget {
    writtenBytes = 0;
    readonly sources = new Set<ArrayBufferLike>();
    override async write(data: Uint8Array, offset: number): Promise<void> {
      this.sources.add(data.buffer);
      await super.write(data, offset);
      this.writtenBytes += data.byteLength;
    }
    override async sync(): Promise<void> {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await super.sync();
    }
  }

  it('holds at most maxInFlightBytes of blocks: the transport waits for a slow target, and block memory is reused', async () => {
    const imagePath = join(dir, 'mem.bin');
    const payloadPath = join(dir, 'mem.payload');
    await writeFile(imagePath, image);
    const { dataOffset } = await createPayload({
      imagePath,
      out: payloadPath,
      version: '2.0.0',
      privateKeyPem: ED_PRIVATE,
      blockSizeBytes: BLOCK,
      compression: 'none',
    });
    const diskPath = join(dir, 'mem.img');
    await makeDisk(diskPath, regionSize + 4096);
    const target = new SlowObservedTarget(diskPath, 0, regionSize);
    const open = openFilePayload(payloadPath, 4096);
    let maxAhead = 0;
    const watched: OpenPayload = async (ranges, signal) => {
      const inner = await open(ranges, signal);
      return Readable.from(
        (async function* () {
          let sent = 0;
          for await (const chunk of inner as AsyncIterable<Buffer>) {
            sent += chunk.byteLength;
            if (sent > dataOffset) maxAhead = Math.max(maxAhead, sent - dataOffset - target.writtenBytes);
            yield chunk;
          }
        })(),
        { highWaterMark: 1 },
      );
    };
    const maxInFlightBytes = 6 * BLOCK;
    const result = await applyPayload(watched, {
      target,
      keyring: trustEd(),
      expect: { appId: 'a', allowDowngrade: false },
      maxInFlightBytes,
      syncEveryBytes: 2 * BLOCK,
    });
    expect(result.blocksWritten).toBe(97);
    expect(await checkRegion(diskPath, 0, regionSize, image, BLOCK)).toBe(97);
    // The pool's blocks, plus what the stream and the reader hold (a few 4 KiB chunks).
    expect(maxAhead).toBeGreaterThan(2 * BLOCK);
    expect(maxAhead).toBeLessThanOrEqual(maxInFlightBytes + 4 * 4096);
    expect(target.sources.size).toBeLessThanOrEqual(6);
  });

  it('a signed manifest whose image SHA-256 disagrees with its block table: refused without read-back; with read-back the slot holds the signed blocks', async () => {
    const path = join(dir, 'wrong-image-hash.payload');
    await buildPayload(path, { image, blockSize: BLOCK, editManifest: (m) => ({ ...m, imageSha256: 'e'.repeat(64) }) });
    const diskPath = join(dir, 'wrong-image-hash.img');
    await makeDisk(diskPath, regionSize + 4096);
    const options = { keyring: trustEd(), expect: { appId: 'a', allowDowngrade: false } };
    await expect(
      applyPayload(openFilePayload(path), { ...options, target: new FileRegionTarget(diskPath, 0, regionSize), readBack: false }),
    ).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: `Image SHA-256 from the payload is ${sha256Hex(image)}, the manifest says ${'e'.repeat(64)}`,
    });
    // The read-back proves the slot holds the blocks of the signed table; imageSha256Hex is the signed claim.
    const result = await applyPayload(openFilePayload(path), { ...options, target: new FileRegionTarget(diskPath, 0, regionSize) });
    expect(result.imageSha256Hex).toBe('e'.repeat(64));
    expect(await checkRegion(diskPath, 0, regionSize, image, BLOCK)).toBe(97);
  });
});
