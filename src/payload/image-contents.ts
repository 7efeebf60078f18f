// `payload inspect --contents`: the image's filesystem (from the superblock magic of the first
// decoded blocks) and, without mounting, whether it holds a kernel and a /postinst (unsquashfs,
// dump.erofs, debugfs on the image rebuilt in a temporary file). Nothing here is verified.

import { open } from 'node:fs/promises';
import { detectFilesystem, MAGIC_PROBE_BYTES, type SlotFilesystem } from '../install/fs-magic.ts';
import { execArgv } from '../platform/exec.ts';
import { decodeBlock } from './block-codec.ts';
import { readPayloadFileHeader } from './inspect.ts';
import { imageBlockLength } from './manifest.ts';

export interface ImageContents {
  filesystem: SlotFilesystem | 'none';
  kernel: 'present' | 'absent' | 'unknown';
  postinst: 'executable' | 'not-executable' | 'absent' | 'unknown';
}

/**
 * Decodes the payload's image, block by block, into `out` (all of it, or only the blocks that
 * cover the first `headBytes`); returns the first MAGIC_PROBE_BYTES of the image.
 */
export async function decodePayloadImage(payloadPath: string, out: string | undefined, headBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const header = await readPayloadFileHeader(payloadPath);
  const m = header.manifest;
  const input = await open(payloadPath, 'r');
  const output = out === undefined ? undefined : await open(out, 'w');
  const head: Buffer[] = [];
  let headLength = 0;
  try {
    for (let i = 0; i < m.blockCount && i * m.blockSize < headBytes; i++) {
      const length = header.blockTable.storedLengths[i] ?? 0;
      const stored = Buffer.alloc(length);
      await input.read(stored, 0, length, header.dataOffset + (header.blockTable.storedOffsets[i] ?? 0));
      const block = Buffer.from(await decodeBlock(m.compression, stored, imageBlockLength(m, i), i));
      if (headLength < MAGIC_PROBE_BYTES) {
        head.push(block.subarray(0, MAGIC_PROBE_BYTES - headLength));
        headLength += Math.min(block.length, MAGIC_PROBE_BYTES - headLength);
      }
      if (output) await output.write(block, 0, block.length, i * m.blockSize);
    }
  } finally {
    await input.close();
    await output?.close();
  }
  return Buffer.concat(head);
}

type Probe = { kind: 'absent' } | { kind: 'file' | 'symlink' | 'other'; mode: number } | { kind: 'unknown' };

/** One path of an image file, read with the filesystem's own tool (no mount, no root). */
async function probePath(image: string, fs: SlotFilesystem, path: string): Promise<Probe> {
  try {
    if (fs === 'squashfs') {
      const r = await execArgv(['unsquashfs', '-lls', '-d', '', image, path.replace(/^\//, '')]);
      if (r.exitCode !== 0) return { kind: 'unknown' };
      const line = r.stdout.split('\n').find((l) => l.endsWith(` ${path}`) || l.includes(` ${path} -> `));
      if (!line) return { kind: 'absent' };
      const kind = line[0] === '-' ? 'file' : line[0] === 'l' ? 'symlink' : 'other';
      return {
        kind,
        mode: line
          .slice(1, 10)
          .split('')
          .reduce((m, c, i) => (c !== '-' ? m | (1 << (8 - i)) : m), 0),
      };
    }
    if (fs === 'erofs') {
      const r = await execArgv(['dump.erofs', `--path=${path}`, image]);
      if (/read inode failed|not found/i.test(r.stderr + r.stdout)) return { kind: 'absent' };
      const access = /Access: (\d{4})/.exec(r.stdout);
      if (r.exitCode !== 0 || !access) return { kind: 'unknown' };
      const kind = /regular file/.test(r.stdout) ? 'file' : /symlink/.test(r.stdout) ? 'symlink' : 'other';
      return { kind, mode: parseInt(access[1] as string, 8) };
    }
    if (fs === 'ext4') {
      const r = await execArgv(['debugfs', '-R', `stat ${path}`, image]);
      if (/File not found/.test(r.stderr + r.stdout)) return { kind: 'absent' };
      const m = /Type: (\w+)\s+Mode:\s+(\d+)/.exec(r.stdout);
      if (!m) return { kind: 'unknown' };
      return { kind: m[1] === 'regular' ? 'file' : m[1] === 'symlink' ? 'symlink' : 'other', mode: parseInt(m[2] as string, 8) };
    }
  } catch {
    // the tool is not installed
  }
  return { kind: 'unknown' };
}

/** What an image file holds for the post-install step. A kernel behind a symbolic link counts as present. */
export async function imageContents(image: string, head: Buffer, kernelPath = '/boot/vmlinuz'): Promise<ImageContents> {
  const filesystem = detectFilesystem(head);
  if (!filesystem) return { filesystem: 'none', kernel: 'absent', postinst: 'absent' };
  const kernel = await probePath(image, filesystem, kernelPath);
  const postinst = await probePath(image, filesystem, '/postinst');
  return {
    filesystem,
    kernel: kernel.kind === 'unknown' ? 'unknown' : kernel.kind === 'file' || kernel.kind === 'symlink' ? 'present' : 'absent',
    postinst: postinst.kind === 'unknown' ? 'unknown' : postinst.kind !== 'file' ? 'absent' : (postinst.mode & 0o111) !== 0 ? 'executable' : 'not-executable',
  };
}
