// What the apply benchmark works on: a random image and its signed payload (test-only key, no
// compression), and a GPT disk image (the project's own codec) whose USR-B slot (partition 4) the
// daemon writes, as an image file or, as root, through a loop device. All in one scratch directory.

import { randomFillSync } from 'node:crypto';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execArgv } from '../../src/platform/exec.ts';
import { createPayload } from '../../src/payload/create.ts';
import { createDiskImage } from '../../src/slots/index.ts';

const MiB = 1024 * 1024;
export const PRIVATE_KEY = 'fixtures/keys/test-only-ed25519.pem';
export const PUBLIC_KEY = 'fixtures/keys/test-only-ed25519.pub.pem';
/** The slot the daemon writes (booted from 3). */
export const PASSIVE_PARTITION = 4;

export interface BenchImage {
  sizeBytes: number;
  payloadPath: string;
  payloadSizeBytes: number;
  version: string;
  diskPath: string;
  /** Where partition 4 starts on the disk, and its length. */
  slotOffsetBytes: number;
  slotLengthBytes: number;
  /** The disk's GPT areas (first and last MiB) as created: restoring them undoes a flip. */
  gpt: { head: Buffer; tail: Buffer; tailOffsetBytes: number };
}

async function run(argv: string[]): Promise<string> {
  const r = await execArgv(argv, { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Writes `sizeBytes` of random data to `path` (16 MiB at a time). */
export async function writeRandomImage(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let done = 0; done < sizeBytes; done += buf.length) {
      randomFillSync(buf);
      await fh.write(buf, 0, Math.min(buf.length, sizeBytes - done));
    }
  } finally {
    await fh.close();
  }
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Makes (or reuses, when already in `dir`) the image's payload and the disk image for one size. */
export async function prepareImage(dir: string, sizeBytes: number, log: (line: string) => void): Promise<BenchImage> {
  const tag = `${sizeBytes / MiB}m`;
  const version = '9999.0.0';
  const imagePath = join(dir, `image-${tag}.img`);
  const payloadPath = join(dir, `image-${tag}.payload`);
  const diskPath = join(dir, `disk-${tag}.img`);
  if (!(await exists(payloadPath))) {
    log(`preparing a random ${tag} image and its payload in ${dir}`);
    await writeRandomImage(imagePath, sizeBytes);
    const t = performance.now();
    await createPayload({ imagePath, out: payloadPath, version, privateKeyPem: await readFile(PRIVATE_KEY, 'utf8'), compression: 'none' });
    log(`  payload created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await writeFile(imagePath, ''); // the payload carries the image; the source file is no longer needed
  }
  const payloadSizeBytes = (await stat(payloadPath)).size;
  // The slot holds the payload too: the curl | dd baseline writes the payload file as it is.
  const usrSizeBytes = Math.ceil((payloadSizeBytes + 16 * MiB) / MiB) * MiB;
  const disk = await createDiskImage(diskPath, { usrSizeBytes, overwrite: true });
  const slot = disk.partitions.find((p) => p.partition === PASSIVE_PARTITION);
  if (!slot) throw new Error(`disk image "${diskPath}" has no partition ${PASSIVE_PARTITION}`);
  const gpt = await readGpt(diskPath, disk.sizeBytes);
  return { sizeBytes, payloadPath, payloadSizeBytes, version, diskPath, slotOffsetBytes: slot.byteOffset, slotLengthBytes: slot.byteLength, gpt };
}

/** The GPT areas of a disk image of `sizeBytes` (its first and last MiB), to be written back by writeGpt. */
export type SavedGpt = BenchImage['gpt'];

export async function readGpt(diskPath: string, sizeBytes: number): Promise<SavedGpt> {
  const tailOffsetBytes = sizeBytes - MiB;
  return { head: await readAt(diskPath, 0, MiB), tail: await readAt(diskPath, tailOffsetBytes, MiB), tailOffsetBytes };
}

/** Writes saved GPT areas back (undoes a flip), on the file or a loop device over it. */
export async function writeGpt(gpt: SavedGpt, diskPath: string): Promise<void> {
  const fh = await open(diskPath, 'r+');
  try {
    await fh.write(gpt.head, 0, gpt.head.length, 0);
    await fh.write(gpt.tail, 0, gpt.tail.length, gpt.tailOffsetBytes);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Puts the GPT back as created (USR-A booted and good, USR-B priority 0), on the file or the loop device. */
export async function restoreGpt(img: BenchImage, diskPath: string): Promise<void> {
  await writeGpt(img.gpt, diskPath);
}

export interface LoopDisk {
  device: string;
  detach(): Promise<void>;
}

/** Attaches the disk image to a loop device with its partitions (root only): the daemon writes a slot through its partition node. */
export async function attachLoopDisk(diskPath: string): Promise<LoopDisk> {
  const device = await run(['losetup', '--find', '--show', diskPath]);
  // This kernel does not scan GPTs by itself: partx adds the partition nodes (deleted before detaching).
  await run(['partx', '--add', device]).catch(async (e: unknown) => {
    await run(['losetup', '--detach', device]);
    throw e;
  });
  return {
    device,
    detach: async () => {
      await run(['partx', '--delete', device]);
      await run(['losetup', '--detach', device]);
    },
  };
}
