// Makes filesystem images from a tree with the real tools, as a release build would: mkfs.ext4 -d,
// mksquashfs (gzip, the default) and mkfs.erofs (uncompressed and lz4hc). Fixed UUIDs and times so
// that two builds of the same tree differ only where the tree does.

import { execFileSync } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';

export type ImageKind = 'ext4' | 'squashfs' | 'erofs' | 'erofs-lz4hc';

export const IMAGE_KINDS: ImageKind[] = ['ext4', 'squashfs', 'erofs', 'erofs-lz4hc'];

const UUID = '3f1a6c0e-8a9b-4c5d-9e0f-112233445566';

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${command} failed: ${stderr || String(error)}`);
  }
}

/** Builds `out` from `tree`; `treeBytes` sizes the ext4 image (tree plus 30% and 16 MiB). */
export async function makeImage(kind: ImageKind, tree: string, out: string, treeBytes: number): Promise<number> {
  await rm(out, { force: true });
  const epoch = { SOURCE_DATE_EPOCH: '1700000000', E2FSPROGS_FAKE_TIME: '1700000000' };
  if (kind === 'ext4') {
    const mib = Math.ceil((treeBytes * 1.3) / 1048576) + 16;
    run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-U', UUID, '-E', `hash_seed=${UUID},root_owner=0:0`, '-d', tree, out, `${mib}M`], epoch);
  } else if (kind === 'squashfs') {
    run('mksquashfs', [tree, out, '-noappend', '-quiet', '-no-progress', '-all-root', '-processors', '2'], epoch);
  } else {
    const compression = kind === 'erofs-lz4hc' ? ['-zlz4hc'] : [];
    run('mkfs.erofs', ['--quiet', '-U', UUID, '-T', '1700000000', '--all-root', ...compression, out, tree], epoch);
  }
  return (await stat(out)).size;
}
