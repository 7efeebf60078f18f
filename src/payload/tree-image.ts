// `payload create --image DIR`: a rootfs tree made into a read-only filesystem image with the
// distribution's own tools (mksquashfs or mkfs.erofs, files owned by root), and what the tree holds
// for the post-install step (a kernel at KERNEL_PATH, an executable /postinst).

import { lstat, stat } from 'node:fs/promises';
import { UpdateEngineError } from '../errors.ts';
import { resolveInImage } from '../install/image-path.ts';
import { execArgv } from '../platform/exec.ts';

export const TREE_FILESYSTEMS = ['squashfs', 'erofs'] as const;
export type TreeFilesystem = (typeof TREE_FILESYSTEMS)[number];

export interface TreeContents {
  /** The kernel at KERNEL_PATH: a regular file (after symbolic links inside the tree), or absent. */
  kernel: 'present' | 'absent';
  postinst: 'executable' | 'not-executable' | 'absent';
}

/** What the tree holds for the post-install step. */
export async function treeContents(dir: string, kernelPath = '/boot/vmlinuz'): Promise<TreeContents> {
  const kernel = await resolveInImage(dir, kernelPath);
  const kernelStats = kernel === undefined ? undefined : await stat(kernel).catch(() => undefined);
  const postinst = await resolveInImage(dir, '/postinst');
  const postinstStats = postinst === undefined ? undefined : await stat(postinst).catch(() => undefined);
  return {
    kernel: kernelStats?.isFile() ? 'present' : 'absent',
    postinst: !postinstStats?.isFile() ? 'absent' : (postinstStats.mode & 0o111) !== 0 ? 'executable' : 'not-executable',
  };
}

/** The argv that builds `out` from `dir`. */
export function buildCommand(fs: TreeFilesystem, dir: string, out: string): string[] {
  return fs === 'squashfs' ? ['mksquashfs', dir, out, '-noappend', '-all-root', '-no-progress', '-quiet'] : ['mkfs.erofs', '--all-root', '--quiet', out, dir];
}

/** Builds the image; ERR_USAGE naming the directory or the tool when it cannot. */
export async function buildTreeImage(dir: string, fs: TreeFilesystem, out: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UpdateEngineError('ERR_USAGE', `Cannot build an image from "${dir}": not a directory`);
  const argv = buildCommand(fs, dir, out);
  const result = await execArgv(argv).catch((e: unknown) => {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UpdateEngineError(
      'ERR_USAGE',
      missing
        ? `Cannot build a ${fs} image: "${argv[0]}" is not installed (Debian: apt-get install ${fs === 'squashfs' ? 'squashfs-tools' : 'erofs-utils'})`
        : `Cannot run "${argv[0]}": ${(e as Error).message}`,
      { cause: e },
    );
  });
  if (result.exitCode !== 0) {
    throw new UpdateEngineError(
      'ERR_USAGE',
      `Cannot build a ${fs} image from "${dir}": ${argv[0]} failed: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 2000)}`,
    );
  }
}
