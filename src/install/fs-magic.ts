// Which filesystem a slot (or an image file) holds, from its superblock magic (pure), and reading
// the bytes it needs from a byte range of a disk or file. A raw image without a filesystem is "none".

import { open } from 'node:fs/promises';

export type SlotFilesystem = 'ext4' | 'erofs' | 'squashfs' | 'btrfs';

/** Bytes from the start of the filesystem that detectFilesystem needs to see (btrfs's superblock is at 64 KiB). */
export const MAGIC_PROBE_BYTES = 0x10000 + 0x48;

/** The filesystem whose magic the header carries, or undefined for a raw image. */
export function detectFilesystem(header: Uint8Array): SlotFilesystem | undefined {
  const b = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  // squashfs: "hsqs" (0x73717368 little-endian) at byte 0.
  if (b.length >= 4 && b.readUInt32LE(0) === 0x73717368) return 'squashfs';
  // erofs: 0xE0F5E1E2 at the start of the superblock, 1024 bytes in.
  if (b.length >= 1028 && b.readUInt32LE(1024) === 0xe0f5e1e2) return 'erofs';
  // ext2/3/4: s_magic 0xEF53 at offset 56 of the superblock at 1024 (all three mount as ext4).
  if (b.length >= 1082 && b.readUInt16LE(1080) === 0xef53) return 'ext4';
  // btrfs: "_BHRfS_M" at offset 0x40 of the superblock at 64 KiB.
  if (b.length >= 0x10048 && b.subarray(0x10040, 0x10048).toString('latin1') === '_BHRfS_M') return 'btrfs';
  return undefined;
}

/** Reads the first MAGIC_PROBE_BYTES of a byte range (fewer when the range is shorter) and detects its filesystem. */
export async function probeFilesystem(path: string, byteOffset = 0, byteLength = Number.MAX_SAFE_INTEGER): Promise<SlotFilesystem | undefined> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(MAGIC_PROBE_BYTES, byteLength));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, byteOffset);
    return detectFilesystem(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
