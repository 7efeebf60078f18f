// The strict ustar header decoder, against headers written by tar-stream and by GNU tar.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { decodeTarHeader, expectEntry, tarPadding } from '../../src/payload/tar-header.ts';
import { requireTool } from '../helpers/tools.ts';
import { tempDir } from './helpers.ts';

async function headerOf(h: Parameters<tar.Pack['entry']>[0]): Promise<Buffer> {
  const pack = tar.pack();
  if (h.type === undefined || h.type === 'file') pack.entry({ ...h, size: 0 }, Buffer.alloc(0));
  else pack.entry(h);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.from(Buffer.concat(chunks).subarray(0, 512));
}

/** Sets the size field (octal, or base-256 with `binary`) and fixes the checksum. */
function withSize(block: Buffer, size: number, binary = false): Buffer {
  const b = Buffer.from(block);
  if (binary) {
    b.fill(0, 124, 136);
    b[124] = 0x80;
    let n = size;
    for (let i = 135; i > 124; i--) {
      b[i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

describe('decodeTarHeader', () => {
  it('reads the name and size of a regular file written by tar-stream', async () => {
    expect(decodeTarHeader(withSize(await headerOf({ name: 'manifest.json' }), 1234), 0)).toEqual({ name: 'manifest.json', sizeBytes: 1234 });
  });

  it('reads a size over 8 GiB in base-256', async () => {
    expect(decodeTarHeader(withSize(await headerOf({ name: 'image-data.bin' }), 20 * 2 ** 30, true), 1536).sizeBytes).toBe(20 * 2 ** 30);
  });

  it('reads headers written by GNU tar', async () => {
    requireTool('tar');
    const { dir, cleanup } = await tempDir('tar-header-');
    try {
      await writeFile(join(dir, 'manifest.json'), 'x'.repeat(700));
      for (const format of ['ustar', 'gnu']) {
        const out = execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, 'manifest.json']);
        expect(decodeTarHeader(out.subarray(0, 512), 0), format).toEqual({ name: 'manifest.json', sizeBytes: 700 });
      }
    } finally {
      await cleanup();
    }
  });

  const refused: Array<[string, () => Promise<Buffer>, string]> = [
    [
      'a bad checksum',
      async () => {
        const b = await headerOf({ name: 'manifest.json' });
        b.writeUInt8(0x4e, 0);
        return b;
      },
      'Tar header at offset 512 has a bad checksum',
    ],
    [
      'a symlink',
      () => headerOf({ name: 'manifest.json', type: 'symlink', linkname: '/etc/shadow' }),
      'Tar entry "manifest.json" at offset 512 is a symlink; only regular files are allowed',
    ],
    [
      'a hard link',
      () => headerOf({ name: 'manifest.json', type: 'link', linkname: 'x' }),
      'Tar entry "manifest.json" at offset 512 is a hard link; only regular files are allowed',
    ],
    [
      'a directory',
      () => headerOf({ name: 'manifest.json', type: 'directory' }),
      'Tar entry "manifest.json" at offset 512 is a directory; only regular files are allowed',
    ],
    ['a path with a slash', () => headerOf({ name: 'a/manifest.json' }), 'Tar entry name "a/manifest.json" at offset 512 is not allowed (no "/" or "..")'],
    ['a parent reference', () => headerOf({ name: '..' }), 'Tar entry name ".." at offset 512 is not allowed (no "/" or "..")'],
    ['an empty block', async () => Buffer.alloc(512), 'Payload ends (end-of-archive marker) at offset 512, where an entry was expected'],
  ];
  for (const [what, make, message] of refused) {
    it(`refuses ${what}`, async () => {
      const block = await make();
      expect(() => decodeTarHeader(block, 512)).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_FORMAT', message }));
    });
  }

  it('refuses a pax header', async () => {
    const b = Buffer.from(await headerOf({ name: 'PaxHeader' }));
    b[156] = 'x'.charCodeAt(0);
    expect(() => decodeTarHeader(withSize(b, 30), 0)).toThrow(
      expect.objectContaining({ message: 'Tar entry "PaxHeader" at offset 0 is a pax extended header; only regular files are allowed' }),
    );
  });

  it('refuses a header without ustar magic', async () => {
    const b = Buffer.from(await headerOf({ name: 'manifest.json' }));
    b.write('nope\0\0', 257, 'latin1');
    expect(() => decodeTarHeader(withSize(b, 1), 1024)).toThrow(expect.objectContaining({ message: 'Tar header at offset 1024 is not in ustar format' }));
  });
});

describe('expectEntry and tarPadding', () => {
  it('names what it found and what it expected', () => {
    expect(expectEntry({ name: 'block-table.bin', sizeBytes: 36 }, 2, 1024)).toBe('block-table.bin');
    expect(() => expectEntry({ name: 'image-data.bin', sizeBytes: 1 }, 0, 0)).toThrow(
      expect.objectContaining({ message: 'Tar entry 1 at offset 0 is "image-data.bin" (out of order), expected "manifest.json"' }),
    );
    expect(() => expectEntry({ name: 'x', sizeBytes: 1 }, 4, 9000)).toThrow(
      expect.objectContaining({ message: 'Unexpected tar entry "x" at offset 9000: a payload has exactly 4 entries' }),
    );
  });
  it('pads to 512 bytes', () => {
    expect([0, 1, 511, 512, 513].map(tarPadding)).toEqual([0, 511, 1, 0, 511]);
  });
});
