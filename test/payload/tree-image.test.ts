// `payload create --image DIR --fs squashfs|erofs` and `payload inspect --contents` through the CLI,
// with the real mksquashfs, mkfs.erofs, unsquashfs, dump.erofs and debugfs (no root needed).

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_PRIVATE_KEY } from '../../src/demo/lab.ts';
import { runCli } from '../helpers/cli.ts';
import { buildFsImage, makeTree } from '../helpers/os-image.ts';
import { requireTool } from '../helpers/tools.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ue-tree-image-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function create(image: string, extra: string[] = []) {
  return runCli('update-engine', [
    'payload',
    'create',
    '--image',
    image,
    '--private-key',
    TEST_PRIVATE_KEY,
    '--version',
    '2.0.0',
    '--out',
    join(dir, 'out.payload'),
    ...extra,
  ]);
}

async function contents(): Promise<unknown> {
  const r = await runCli('update-engine', ['payload', 'inspect', '--contents', join(dir, 'out.payload')]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { contents: unknown }).contents;
}

describe('payload create from a directory', () => {
  for (const fs of ['squashfs', 'erofs'] as const) {
    it(`--fs ${fs}: builds the image, says what the tree holds, and inspect --contents reads it back`, async () => {
      requireTool(fs === 'squashfs' ? 'mksquashfs' : 'mkfs.erofs');
      requireTool(fs === 'squashfs' ? 'unsquashfs' : 'dump.erofs');
      makeTree(join(dir, 'tree'), { kernel: Buffer.from('kernel'), postinst: '#!/bin/sh\n' });
      const r = await create(join(dir, 'tree'), ['--fs', fs, '--compression', 'gzip']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`image built as ${fs}; kernel /boot/vmlinuz present, /postinst executable`);
      expect(await contents()).toEqual({ filesystem: fs, kernel: 'present', postinst: 'executable' });
      expect(readdirSync(dir).sort()).toEqual(['out.payload', 'tree']); // the temporary image is gone
    });
  }

  it('defaults to squashfs; a tree without a kernel and with a non-executable postinst says so', async () => {
    requireTool('mksquashfs');
    makeTree(join(dir, 'tree'), { postinst: '#!/bin/sh\n', postinstMode: 0o644 });
    const r = await create(join(dir, 'tree'), ['--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ filesystem: 'squashfs', kernel: 'absent', postinst: 'not-executable' });
    expect(await contents()).toEqual({ filesystem: 'squashfs', kernel: 'absent', postinst: 'not-executable' });
  });

  it('an ext4 image file: inspect --contents reads it with debugfs; a raw image is "none"', async () => {
    requireTool('debugfs');
    makeTree(join(dir, 'tree'), { kernel: Buffer.from('k') });
    buildFsImage(join(dir, 'tree'), join(dir, 'e4.img'), 'ext4');
    expect((await create(join(dir, 'e4.img'), ['--block-size', '4K'])).code).toBe(0);
    expect(await contents()).toEqual({ filesystem: 'ext4', kernel: 'present', postinst: 'absent' });
    expect((await create(join(__dirname, '..', '..', 'package.json'))).code).toBe(0);
    expect(await contents()).toEqual({ filesystem: 'none', kernel: 'absent', postinst: 'absent' });
  });

  it('refuses an unknown --fs, --fs with an image file, and a missing directory, writing nothing', async () => {
    makeTree(join(dir, 'tree'), {});
    const unknown = await create(join(dir, 'tree'), ['--fs', 'btrfs']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown --fs "btrfs" (expected squashfs or erofs)');
    const onFile = await create(join(__dirname, '..', '..', 'package.json'), ['--fs', 'erofs']);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toContain('--fs applies to a directory');
    const missing = await create(join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Cannot read image "${join(dir, 'nope')}"`);
    expect(existsSync(join(dir, 'out.payload'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['tree']);
  });
});
