// What the apply benchmark works on: a random image, its signed payload (test-only key, no
// compression), and a GPT disk image whose partition 1 is the slot, reachable as a file region and,
// as root, as a loop-device partition node. Everything lives in one scratch directory.

import { randomFillSync } from 'node:crypto';
import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execArgv } from '../../src/platform/exec.ts';
import { createPayload } from '../../src/payload/create.ts';

const MiB = 1024 * 1024;
export const PRIVATE_KEY = 'fixtures/keys/test-only-ed25519.pem';
export const PUBLIC_KEY = 'fixtures/keys/test-only-ed25519.pub.pem';
/** Partition 1 starts at sector 2048. */
export const SLOT_OFFSET_BYTES = 2048 * 512;

export interface BenchImage {
  sizeBytes: number;
  payloadPath: string;
  payloadSizeBytes: number;
  diskPath: string;
  slotLengthBytes: number;
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
async function writeRandomImage(path: string, sizeBytes: number): Promise<void> {
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

/** Makes (or reuses, when the payload is already in `dir`) the image, payload and disk for one size. */
export async function prepareImage(dir: string, sizeBytes: number, log: (line: string) => void): Promise<BenchImage> {
  const tag = `${sizeBytes / MiB}m`;
  const imagePath = join(dir, `image-${tag}.img`);
  const payloadPath = join(dir, `image-${tag}.payload`);
  const diskPath = join(dir, `disk-${tag}.img`);
  if (!(await exists(payloadPath))) {
    log(`preparing a random ${tag} image and its payload in ${dir}`);
    await writeRandomImage(imagePath, sizeBytes);
    const t = performance.now();
    await createPayload({
      imagePath,
      out: payloadPath,
      version: '9999.0.0',
      privateKeyPem: await readFile(PRIVATE_KEY, 'utf8'),
      compression: 'none',
    });
    log(`  payload created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await writeFile(imagePath, ''); // the payload carries the image; the source file is no longer needed
  }
  const payloadSizeBytes = (await stat(payloadPath)).size;
  // The slot holds the payload too (the curl | dd baseline writes the payload file as is).
  const slotLengthBytes = Math.ceil((payloadSizeBytes + 16 * MiB) / MiB) * MiB;
  if (!(await exists(diskPath))) {
    await writeFile(diskPath, '');
    await truncate(diskPath, SLOT_OFFSET_BYTES + slotLengthBytes + 2 * MiB);
    await run(['sgdisk', '-o', '-n', `1:2048:+${slotLengthBytes / 1024}K`, '-c', '1:USR-B', diskPath]);
  }
  return { sizeBytes, payloadPath, payloadSizeBytes, diskPath, slotLengthBytes };
}

export interface LoopSlot {
  device: string;
  partitionNode: string;
  detach(): Promise<void>;
}

/** Attaches the disk image to a loop device and adds its partition nodes (root only). */
export async function attachLoopSlot(diskPath: string): Promise<LoopSlot> {
  const device = await run(['losetup', '--find', '--show', diskPath]);
  try {
    await run(['partx', '--add', device]);
  } catch (e) {
    await run(['losetup', '--detach', device]);
    throw e;
  }
  return {
    device,
    partitionNode: `${device}p1`,
    detach: async () => {
      await run(['partx', '--delete', device]).catch(() => {});
      await run(['losetup', '--detach', device]);
    },
  };
}
