// Every bad input of issue 4, each with its error code and message. After each failure the target
// region holds only verified blocks (or nothing) and the bytes around the region are untouched.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { UpdateEngineError } from '../../src/errors.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import type { DeviceReader } from '../../src/io/device-reader.ts';
import type { WriteTarget } from '../../src/io/write-target.ts';
import { applyPayload, openFilePayload } from '../../src/payload/apply.ts';
import { keyringFromPems } from '../../src/payload/keyring.ts';
import type { PayloadExpectation } from '../../src/payload/manifest.ts';
import { keyIdOf } from '../../src/payload/signature.ts';
import {
  ED2_PRIVATE,
  ED2_PUBLIC,
  ED_PRIVATE,
  ED_PUBLIC,
  buildPayload,
  checkRegion,
  flipBit,
  makeDisk,
  seededBytes,
  setTarSize,
  tarEntries,
  tempDir,
  trustEd,
  writeTar,
} from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let good: string;
let dataOffset: number;
const BLOCK = 4096;
const IMAGE = seededBytes(40 * BLOCK + 1000, 42);
const REGION_OFFSET = 65536;
const REGION_SIZE = 256 * 1024;
const MACHINE: PayloadExpectation = { appId: '{app}', board: 'amd64-usr', runningVersion: '1.5.0', allowDowngrade: false };
const ED_ID = keyIdOf(createPublicKey(ED_PUBLIC));
const ED2_ID = keyIdOf(createPublicKey(ED2_PUBLIC));

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('apply-bad-'));
  good = join(dir, 'good.payload');
  ({ dataOffset } = await buildPayload(good, { image: IMAGE, blockSize: BLOCK, version: '2.0.0', appId: '{app}', board: 'amd64-usr' }));
});
afterAll(() => cleanup());

let serial = 0;
/** Copies the good payload, lets `bend` damage it, applies it; returns the error and the blocks found written. */
async function applyBad(
  bend: (path: string) => Promise<void> | void,
  options: { expect?: Partial<PayloadExpectation>; keyring?: ReturnType<typeof trustEd>; regionSize?: number } = {},
) {
  serial += 1;
  const path = join(dir, `bad-${serial}.payload`);
  const disk = join(dir, `disk-${serial}.img`);
  await copyFile(good, path);
  await bend(path);
  const regionSize = options.regionSize ?? REGION_SIZE;
  await makeDisk(disk, REGION_OFFSET + REGION_SIZE + 65536);
  const error = await applyPayload(openFilePayload(path, 8192), {
    target: new FileRegionTarget(disk, REGION_OFFSET, regionSize),
    keyring: options.keyring ?? trustEd(),
    expect: { ...MACHINE, ...options.expect },
    syncEveryBytes: 16384,
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { code: string },
  );
  const blocksWritten = await checkRegion(disk, REGION_OFFSET, REGION_SIZE, IMAGE, BLOCK);
  return { error, blocksWritten, path };
}

async function entriesOf(path: string) {
  return tarEntries(path);
}

describe('bad payloads are refused', () => {
  it('a good payload is accepted (control)', async () => {
    const r = await applyBad(() => undefined);
    expect(r.error).toBeUndefined();
    expect(r.blocksWritten).toBe(41);
  });

  it('garbage that is not a tar', async () => {
    const r = await applyBad((p) => writeFile(p, seededBytes(100_000, 9)));
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: 'Not a payload archive: the first 512 bytes are not a tar header (bad checksum)' });
    expect(r.blocksWritten).toBe(0);
  });

  it('truncated at seeded random offsets, each in the right place of the message', async () => {
    let seed = 2024;
    const offsets = [
      0,
      100,
      512,
      700,
      dataOffset - 1,
      dataOffset,
      dataOffset + 5000,
      dataOffset + 20 * BLOCK,
      dataOffset + IMAGE.byteLength,
      dataOffset + IMAGE.byteLength + 600,
    ];
    for (let i = 0; i < 6; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      offsets.push(seed % (dataOffset + IMAGE.byteLength + 1024));
    }
    const size = (await readFile(good)).byteLength;
    for (const cut of offsets) {
      const r = await applyBad(async (p) => writeFile(p, (await readFile(p)).subarray(0, cut)));
      expect(r.error?.code, `cut at ${cut} of ${size}`).toBe('ERR_PAYLOAD_FORMAT');
      const where =
        cut === 0
          ? 'the tar header of entry 1'
          : cut >= dataOffset + IMAGE.byteLength
            ? /padding after the image data|end-of-archive marker/
            : cut >= dataOffset
              ? `block ${Math.floor((cut - dataOffset) / BLOCK)}`
              : /entry|padding|tar header/;
      expect(r.error?.message).toMatch(/^Payload is truncated: it ends at offset \d+ inside /);
      if (typeof where === 'string') expect(r.error?.message).toContain(`inside ${where}`);
      else expect(r.error?.message).toMatch(where);
      if (cut < dataOffset) expect(r.blocksWritten).toBe(0);
      else expect(r.blocksWritten).toBeLessThanOrEqual(Math.ceil((cut - dataOffset) / BLOCK));
    }
  });

  it('a flipped bit in the manifest', async () => {
    const r = await applyBad((p) => flipBit(p, 512 + 40, 1));
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE', message: `Signature by trusted key "${ED_ID}" does not verify over the manifest` });
    expect(r.blocksWritten).toBe(0);
  });

  it('a flipped bit in a signature', async () => {
    const bytes = await readFile(good);
    const at = bytes.indexOf('"signature": "') + '"signature": "'.length + 10;
    const r = await applyBad((p) => flipBit(p, at, 0));
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE', message: `Signature by trusted key "${ED_ID}" does not verify over the manifest` });
  });

  it('a flipped bit in the block table', async () => {
    const r = await applyBad((p) => flipBit(p, dataOffset - 512 - 512 - 100, 3));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: expect.stringMatching(/^Block table SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/),
    });
    expect(r.blocksWritten).toBe(0);
  });

  it('a flipped bit in a block: that block is never written', async () => {
    const r = await applyBad((p) => flipBit(p, dataOffset + 17 * BLOCK + 99, 5));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_HASH_MISMATCH',
      message: expect.stringMatching(/^Block 17 SHA-256 is [0-9a-f]{64}, the block table says [0-9a-f]{64}$/),
    });
    const disk = await readFile(join(dir, `disk-${serial}.img`));
    expect(disk.subarray(REGION_OFFSET + 17 * BLOCK, REGION_OFFSET + 18 * BLOCK).every((b) => b === 0xa5)).toBe(true);
  });

  it('a flipped bit in the last block', async () => {
    const r = await applyBad((p) => flipBit(p, dataOffset + IMAGE.byteLength - 1, 7));
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_HASH_MISMATCH', message: expect.stringContaining('Block 40 SHA-256 is') });
    expect(r.blocksWritten).toBeLessThanOrEqual(40);
  });

  it('a signature by an untrusted key only', async () => {
    const r = await applyBad((p) => buildPayload(p, { image: IMAGE, blockSize: BLOCK, signWith: [ED2_PRIVATE] }).then(() => undefined));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_SIGNATURE',
      message: `No signature on the payload is by a trusted key (signed by "${ED2_ID}"; trusted: "${ED_ID}")`,
    });
  });

  it('no signature at all', async () => {
    const r = await applyBad((p) => buildPayload(p, { image: IMAGE, blockSize: BLOCK, signWith: [] }).then(() => undefined));
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE', message: 'Payload has no signatures' });
  });

  it('a valid signature by a revoked key', async () => {
    const keyring = keyringFromPems([ED_PUBLIC, ED2_PUBLIC], [ED_ID]);
    const r = await applyBad(() => undefined, { keyring });
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE', message: `Payload is signed by revoked key "${ED_ID}" and by no other trusted key` });
  });

  it('a revoked signature does not block a second, trusted one', async () => {
    const keyring = keyringFromPems([ED_PUBLIC, ED2_PUBLIC], [ED_ID]);
    const r = await applyBad((p) => buildPayload(p, { image: IMAGE, blockSize: BLOCK, signWith: [ED_PRIVATE, ED2_PRIVATE] }).then(() => undefined), {
      keyring,
    });
    expect(r.error).toBeUndefined();
  });

  it('a wrong app id', async () => {
    const r = await applyBad(() => undefined, { expect: { appId: '{other}' } });
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_TARGET', message: 'Payload is for app id "{app}", this machine is "{other}"' });
  });

  it('a wrong board', async () => {
    const r = await applyBad(() => undefined, { expect: { board: 'arm64-usr' } });
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_TARGET', message: 'Payload is for board "amd64-usr", this machine is "arm64-usr"' });
  });

  it('an older version', async () => {
    const r = await applyBad(() => undefined, { expect: { runningVersion: '2.1.0' } });
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_DOWNGRADE',
      message: 'Payload version "2.0.0" is not newer than the running version "2.1.0" (set ALLOW_DOWNGRADE=true to accept it)',
    });
    expect(r.blocksWritten).toBe(0);
  });

  it('an equal version', async () => {
    const r = await applyBad(() => undefined, { expect: { runningVersion: '2.0.0' } });
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_DOWNGRADE',
      message: 'Payload version "2.0.0" is not newer than the running version "2.0.0" (set ALLOW_DOWNGRADE=true to accept it)',
    });
  });

  it('an older version is applied when downgrades are allowed', async () => {
    const r = await applyBad(() => undefined, { expect: { runningVersion: '3.0.0', allowDowngrade: true } });
    expect(r.error).toBeUndefined();
    expect(r.blocksWritten).toBe(41);
  });

  it('an image larger than the slot (the target is not even opened)', async () => {
    const r = await applyBad(() => undefined, { regionSize: IMAGE.byteLength - 1 });
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_TOO_LARGE',
      message: `Image of ${IMAGE.byteLength} bytes does not fit write target "${join(dir, `disk-${serial}.img`)} [+${REGION_OFFSET}, ${IMAGE.byteLength - 1} bytes]" (${IMAGE.byteLength - 1} bytes)`,
    });
    expect(r.blocksWritten).toBe(0);
  });

  it('a manifest over the size cap', async () => {
    let size = 0;
    const r = await applyBad(async (p) => {
      const entries = await entriesOf(p);
      const first = entries[0] as { body: Buffer };
      first.body = Buffer.concat([first.body, Buffer.alloc(20_000, 0x20)]);
      size = first.body.byteLength;
      await writeTar(p, entries);
    });
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: `Entry "manifest.json" is ${size} bytes, over the 16384-byte cap` });
    expect(r.blocksWritten).toBe(0);
  });

  it('a block that decompresses past the block size (zip bomb)', async () => {
    const r = await applyBad((p) =>
      buildPayload(p, {
        image: IMAGE,
        blockSize: BLOCK,
        compression: 'gzip',
        storedOverride: (i, s) => (i === 3 ? gzipSync(Buffer.alloc(2 * 1024 * 1024)) : s),
      }).then(() => undefined),
    );
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: 'Block 3 decompresses past the block length of 4096 bytes (gzip)' });
    expect(r.blocksWritten).toBeLessThanOrEqual(3);
  });

  it('a compressed block with a damaged checksum', async () => {
    const r = await applyBad((p) =>
      buildPayload(p, {
        image: IMAGE,
        blockSize: BLOCK,
        compression: 'gzip',
        storedOverride: (i, s) => (i === 5 ? Buffer.from(s.map((b, j) => (j === s.byteLength - 6 ? b ^ 1 : b))) : s),
      }).then(() => undefined),
    );
    expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: 'Block 5 does not decompress (gzip): incorrect data check' });
  });

  it('an extra entry between the others', async () => {
    const r = await applyBad(async (p) => {
      const entries = await entriesOf(p);
      entries.splice(1, 0, { name: 'extra.txt', body: Buffer.from('hi') });
      await writeTar(p, entries);
    });
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: expect.stringMatching(/^Tar entry 2 at offset \d+ is "extra.txt" \(unexpected\), expected "signatures.json"$/),
    });
  });

  it('an extra entry after the image data', async () => {
    const r = await applyBad(async (p) => writeTar(p, [...(await entriesOf(p)), { name: 'extra.txt', body: Buffer.from('hi') }]));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: expect.stringMatching(/^Unexpected data after the image data at offset \d+: the image data is a payload's last entry$/),
    });
    expect(r.blocksWritten).toBeLessThanOrEqual(41);
  });

  it('a missing entry (no signatures)', async () => {
    const r = await applyBad(async (p) =>
      writeTar(
        p,
        (await entriesOf(p)).filter((e) => e.name !== 'signatures.json'),
      ),
    );
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: expect.stringMatching(/^Tar entry 2 at offset \d+ is "block-table.bin" \(out of order\), expected "signatures.json"$/),
    });
  });

  it('a missing image data entry', async () => {
    const r = await applyBad(async (p) => writeTar(p, (await entriesOf(p)).slice(0, 3)));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: expect.stringMatching(/^Payload ends \(end-of-archive marker\) at offset \d+, where an entry was expected$/),
    });
  });

  it('reordered entries', async () => {
    const r = await applyBad(async (p) => {
      const [a, b, ...rest] = await entriesOf(p);
      await writeTar(p, [b!, a!, ...rest]);
    });
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Tar entry 1 at offset 0 is "signatures.json" (out of order), expected "manifest.json"',
    });
  });

  it('entry names with path traversal', async () => {
    for (const name of ['../manifest.json', 'x/../manifest.json', 'sub/manifest.json', '/manifest.json']) {
      const r = await applyBad(async (p) => {
        const entries = await entriesOf(p);
        (entries[0] as { name: string }).name = name;
        await writeTar(p, entries);
      });
      expect(r.error).toMatchObject({ code: 'ERR_PAYLOAD_FORMAT', message: `Tar entry name "${name}" at offset 0 is not allowed (no "/" or "..")` });
    }
  });

  it('a link instead of a file', async () => {
    const r = await applyBad(async (p) => writeTar(p, [{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }, ...(await entriesOf(p)).slice(1)]));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: 'Tar entry "manifest.json" at offset 0 is a symlink; only regular files are allowed',
    });
  });

  it('a header that lies about its size (image data)', async () => {
    const r = await applyBad((p) => setTarSize(p, dataOffset - 512, IMAGE.byteLength + 4096));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: `Entry "image-data.bin" at offset ${dataOffset - 512} says ${IMAGE.byteLength + 4096} bytes, but the block table adds up to ${IMAGE.byteLength}`,
    });
  });

  it('a header that lies about its size (block table)', async () => {
    const tableHeaderAt = dataOffset - 512 - Math.ceil((41 * 36) / 512) * 512 - 512;
    const r = await applyBad((p) => setTarSize(p, tableHeaderAt, 41 * 36 - 36));
    expect(r.error).toMatchObject({
      code: 'ERR_PAYLOAD_FORMAT',
      message: `Entry "block-table.bin" at offset ${tableHeaderAt} says ${40 * 36} bytes, but 41 blocks take ${41 * 36}`,
    });
  });
});

describe('a slot that fails or does not hold what was written', () => {
  /** Its reads (through the page cache: it has no direct reads) return block 7 with a flipped bit. */
  class CorruptingTarget extends FileRegionTarget {
    override async readInto(buffer: Uint8Array, offset: number): Promise<number> {
      const n = await super.readInto(buffer, offset);
      if (offset === 7 * BLOCK) buffer[10] = (buffer[10] ?? 0) ^ 1;
      return n;
    }
    override async openDeviceReader(): Promise<undefined> {
      return undefined;
    }
  }

  /** Its page-cache reads are right, but the device returns block 5 with a flipped bit (what a direct read sees). */
  class CorruptDeviceTarget extends FileRegionTarget {
    deviceReads = 0;
    override async openDeviceReader(maxLength: number): Promise<DeviceReader | undefined> {
      const inner = await super.openDeviceReader(maxLength);
      if (!inner) throw new Error('the test directory has no O_DIRECT (tmpfs?): set TMPDIR to a disk-backed directory');
      return {
        read: async (offset, length) => {
          this.deviceReads += 1;
          const bytes = Buffer.from(await inner.read(offset, length));
          if (offset === 5 * BLOCK) bytes[20] = (bytes[20] ?? 0) ^ 4;
          return bytes;
        },
        close: () => inner.close(),
      };
    }
  }

  /** A target with read() only (no readInto): the read-back falls back to it. */
  class ReadOnlyApiTarget implements WriteTarget {
    constructor(private readonly inner: FileRegionTarget) {}
    get description() {
      return this.inner.description;
    }
    get sizeBytes() {
      return this.inner.sizeBytes;
    }
    open() {
      return this.inner.open();
    }
    write(data: Uint8Array, offset: number) {
      return this.inner.write(data, offset);
    }
    sync() {
      return this.inner.sync();
    }
    async read(offset: number, length: number) {
      const bytes = await this.inner.read(offset, length);
      if (offset === 3 * BLOCK) bytes[BLOCK - 1] = (bytes[BLOCK - 1] ?? 0) ^ 0x80;
      return bytes;
    }
    close() {
      return this.inner.close();
    }
  }

  it('a block read back differs from its verified bytes: ERR_IMAGE_VERIFICATION with block and offset', async () => {
    const disk = join(dir, 'corrupting.img');
    await makeDisk(disk, REGION_OFFSET + REGION_SIZE + 65536);
    const target = new CorruptingTarget(disk, REGION_OFFSET, REGION_SIZE);
    const error = await applyPayload(openFilePayload(good), { target, keyring: trustEd(), expect: MACHINE }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_IMAGE_VERIFICATION',
      message: `Block 7 read back from "${target.description}" differs from its verified bytes at offset ${7 * BLOCK + 10}`,
    });
  });

  it('the read-back reads the device (O_DIRECT), not the page cache: a block the device holds differently fails', async () => {
    const disk = join(dir, 'corrupt-device.img');
    await makeDisk(disk, REGION_OFFSET + REGION_SIZE + 65536);
    const target = new CorruptDeviceTarget(disk, REGION_OFFSET, REGION_SIZE);
    const error = await applyPayload(openFilePayload(good), { target, keyring: trustEd(), expect: MACHINE }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_IMAGE_VERIFICATION',
      message: `Block 5 read back from "${target.description}" differs from its verified bytes at offset ${5 * BLOCK + 20}`,
    });
    expect(target.deviceReads).toBeGreaterThanOrEqual(6);
  });

  it('the same through a target without readInto (read() is used)', async () => {
    const disk = join(dir, 'corrupting-read.img');
    await makeDisk(disk, REGION_OFFSET + REGION_SIZE + 65536);
    const target = new ReadOnlyApiTarget(new FileRegionTarget(disk, REGION_OFFSET, REGION_SIZE));
    const error = await applyPayload(openFilePayload(good), { target, keyring: trustEd(), expect: MACHINE }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_IMAGE_VERIFICATION',
      message: `Block 3 read back from "${target.description}" differs from its verified bytes at offset ${4 * BLOCK - 1}`,
    });
  });

  it('the slot cannot be opened: ERR_INSTALL_DEVICE', async () => {
    const missing = join(dir, 'no-such-disk.img');
    await expect(
      applyPayload(openFilePayload(good), { target: new FileRegionTarget(missing, 0, REGION_SIZE), keyring: trustEd(), expect: MACHINE }),
    ).rejects.toMatchObject({
      code: 'ERR_INSTALL_DEVICE',
      message: expect.stringContaining(`Cannot open write target "${missing}"`),
    });
  });

  it('a write fails: the write error, with only verified blocks on the slot', async () => {
    class FullTarget extends FileRegionTarget {
      override async write(data: Uint8Array, offset: number): Promise<void> {
        if (offset >= 20 * BLOCK) throw new UpdateEngineError('ERR_INSTALL_DEVICE_SPACE', `No space left on device at ${offset}`);
        return super.write(data, offset);
      }
    }
    const disk = join(dir, 'full.img');
    await makeDisk(disk, REGION_OFFSET + REGION_SIZE + 65536);
    await expect(
      applyPayload(openFilePayload(good), { target: new FullTarget(disk, REGION_OFFSET, REGION_SIZE), keyring: trustEd(), expect: MACHINE }),
    ).rejects.toMatchObject({
      code: 'ERR_INSTALL_DEVICE_SPACE',
      message: expect.stringMatching(/^No space left on device at \d+$/),
    });
    expect(await checkRegion(disk, REGION_OFFSET, REGION_SIZE, IMAGE, BLOCK)).toBeLessThanOrEqual(20);
  });
});
